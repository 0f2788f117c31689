package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	timetypes "github.com/docker/docker/api/types/time"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
)

// logsCmd is docker logs: the container's logs file, written its options
// and read in docker's framing, stdout to stdout and stderr to stderr.
func (c *cli) logsCmd() *cobra.Command {
	var followFlag, timestamps bool
	var tail, since, until string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			v := verbs.Logs{Timestamps: timestamps, Follow: followFlag, Format: "framed"}
			if tail != "all" {
				v.Tail = tail
			}
			var err error
			now := time.Now()
			if v.Since, err = logTime(since, now); err != nil {
				return err
			}
			if v.Until, err = logTime(until, now); err != nil {
				return err
			}
			client, err := c.connect(ctx)
			if err != nil {
				return err
			}
			dir, err := containerDir(args[0])
			if err != nil {
				return err
			}
			h, err := client.Open(ctx, dir+"logs", os.O_RDWR)
			if err != nil {
				return notFound(err, args[0])
			}
			defer h.Close()
			if _, err := h.WriteAt(ctx, []byte(verbs.Line(v)+"\n"), 0); err != nil {
				return err
			}
			_, err = stdcopy.StdCopy(os.Stdout, os.Stderr, &handleReader{ctx: ctx, h: h})
			if ctx.Err() != nil {
				return nil // interrupted while following, as docker logs -f ends
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&followFlag, "follow", "f", false, "follow log output")
	fl.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	fl.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	fl.StringVar(&since, "since", "", "show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	fl.StringVar(&until, "until", "", "show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	return cmd
}

// logTime turns a --since or --until value into the Unix time the tree
// takes, as the docker CLI does: a duration is that long before now, and
// dates and times are read in docker's layouts.
func logTime(v string, now time.Time) (string, error) {
	if v == "" {
		return "", nil
	}
	ts, err := timetypes.GetTimestamp(v, now)
	if err != nil {
		return "", fmt.Errorf("invalid value %q: %w", v, err)
	}
	return strings.TrimSpace(ts), nil
}
