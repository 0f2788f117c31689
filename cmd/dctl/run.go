package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/detachkeys"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/imagestore/imageref"
)

func (c *cli) createCmd() *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			line, err := f.create(args[0], args[1:])
			if err != nil {
				return codeError{err, 125}
			}
			id, h, err := c.create(cmd.Context(), line)
			if err != nil {
				return codeError{err, 125}
			}
			h.Close()
			fmt.Println(id)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func (c *cli) runCmd() *cobra.Command {
	var f createFlags
	var detach bool
	var detachKeys, pull string
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			keys, err := detachkeys.Parse(detachKeys)
			if err != nil {
				return codeError{err, 125}
			}
			line, err := f.create(args[0], args[1:])
			if err != nil {
				return codeError{err, 125}
			}
			id, h, err := c.createPulling(ctx, line, args[0], pull)
			if err != nil {
				return codeError{err, 125}
			}
			defer h.Close()
			if detach {
				if _, err := fs.WriteCommand(ctx, h, verbs.Line(verbs.ContainerStart{})); err != nil {
					return codeError{err, 125}
				}
				fmt.Println(id)
				return nil
			}
			s := &session{client: c.client, dir: "containers/" + id + "/", tty: f.c.Tty,
				stdin: f.c.Stdin, detachKeys: keys}
			if err := s.open(ctx); err != nil {
				return codeError{err, 125}
			}
			if _, err := fs.WriteCommand(ctx, h, verbs.Line(verbs.ContainerStart{})); err != nil {
				s.close()
				return codeError{err, 125}
			}
			code, err := s.run(ctx)
			if errors.Is(err, errDetached) {
				return nil
			}
			if err != nil {
				return err
			}
			return exitError{code}
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run the container in the background and print its id")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", detachkeys.Default, "key sequence for detaching a container")
	cmd.Flags().StringVar(&pull, "pull", "missing", `pull image before running ("always", "missing", "never")`)
	return cmd
}

// createPulling creates a container as create does, pulling its image
// first as docker run does: when it is missing (pull "missing"), always
// ("always"), or never ("never"). The pull's progress goes to stderr.
func (c *cli) createPulling(ctx context.Context, line verbs.Create, image, pull string) (string, fs.Handle, error) {
	switch pull {
	case "missing", "never":
	case "always":
		if err := c.pull(ctx, image, "", false, os.Stderr, false); err != nil {
			return "", nil, err
		}
	default:
		return "", nil, fmt.Errorf("invalid pull option: %q: must be one of \"always\", \"missing\" or \"never\"", pull)
	}
	id, h, err := c.create(ctx, line)
	if err == nil || pull != "missing" || !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "No such image") {
		return id, h, err
	}
	ref := image
	if r, perr := imageref.Parse(image); perr == nil {
		ref = imageref.Familiar(r)
	}
	fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", ref)
	if err := c.pull(ctx, image, "", false, os.Stderr, false); err != nil {
		return "", nil, err
	}
	return c.create(ctx, line)
}

// follow copies log to w while the run goes on and returns its exit code once
// wait answers; what the container wrote until then is all in the log.
func follow(ctx context.Context, log, wait fs.Handle, w io.Writer) (int, error) {
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		b, err := fs.ReadHandle(ctx, wait)
		if err != nil {
			done <- result{err: err}
			return
		}
		code, err := strconv.Atoi(strings.TrimSpace(string(b)))
		done <- result{code, err}
	}()
	var off int64
	buf := make([]byte, 64*1024)
	drain := func() error {
		for {
			n, err := log.ReadAt(ctx, buf, off)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return werr
				}
				off += int64(n)
			}
			if err == io.EOF || (err == nil && n == 0) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if err := drain(); err != nil {
				return 0, err
			}
			return r.code, r.err
		case <-tick.C:
			if err := drain(); err != nil {
				return 0, err
			}
		case <-ctx.Done():
			return 0, errors.New("interrupted; the container goes on running")
		}
	}
}
