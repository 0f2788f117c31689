package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/fs"
)

func (c *cli) commitCmd() *cobra.Command {
	var author, message string
	var changes []string
	var pause bool
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			line := verbs.ContainerCommit{Author: author, Comment: message, Change: changes, NoPause: !pause}
			if len(args) > 1 {
				line.Ref = args[1]
			}
			client, err := c.connect(cmd.Context())
			if err != nil {
				return err
			}
			reply, err := fs.Command(cmd.Context(), client, "containers/"+args[0]+"/ctl", verbs.Line(line))
			if err != nil {
				return err
			}
			fmt.Println(strings.TrimSpace(reply))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&author, "author", "a", "", `author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	fl.StringVarP(&message, "message", "m", "", "commit message")
	fl.StringArrayVarP(&changes, "change", "c", nil, "apply Dockerfile instruction to the created image")
	fl.BoolVarP(&pause, "pause", "p", true, "pause container during commit")
	return cmd
}

func (c *cli) importCmd() *cobra.Command {
	var message, platform string
	var changes []string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|-  [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src := args[0]
			if strings.Contains(src, "://") {
				return errors.New("importing from a URL is not supported: download the file and import it")
			}
			in := io.Reader(os.Stdin)
			if src != "-" {
				f, err := os.Open(src)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			line := verbs.Import{Message: message, Platform: platform, Change: changes}
			if len(args) > 1 {
				line.Ref = args[1]
			}
			id, err := c.importImage(cmd.Context(), line, in)
			if err != nil {
				return err
			}
			fmt.Println(id)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&message, "message", "m", "", "set commit message for imported image")
	fl.StringArrayVarP(&changes, "change", "c", nil, "apply Dockerfile instruction to the created image")
	fl.StringVar(&platform, "platform", "", "set platform if server is multi-platform capable")
	return cmd
}

// importImage runs an import job of /builds with the tar in r and
// returns the image id.
func (c *cli) importImage(ctx context.Context, line verbs.Import, r io.Reader) (string, error) {
	client, err := c.connect(ctx)
	if err != nil {
		return "", err
	}
	n, err := newBuild(ctx, client, line)
	if err != nil {
		return "", err
	}
	dir := "builds/" + n + "/"
	if _, err := sendFile(ctx, client, dir+"context", r); err != nil {
		_, _ = fs.Command(context.WithoutCancel(ctx), client, dir+"ctl", verbs.Line(verbs.BuildCancel{}))
		return "", err
	}
	if _, err := fs.Command(ctx, client, dir+"ctl", verbs.Line(verbs.BuildStart{})); err != nil {
		return "", err
	}
	st, err := fs.ReadAll(ctx, client, dir+"status")
	if err != nil {
		return "", err
	}
	id, ok := strings.CutPrefix(strings.TrimSpace(string(st)), "done ")
	if !ok {
		return "", errors.New(strings.TrimSpace(string(st)))
	}
	return id, nil
}
