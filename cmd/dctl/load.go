package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/enginefs/enginefs/ctl"
)

func (c *cli) loadCmd() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive (docker-save or OCI) or STDIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The daemon reads the archive by path, so it must see the
			// client's files (a local daemon); stdin goes through a
			// temporary file.
			path := input
			if path == "" {
				if term.IsTerminal(int(os.Stdin.Fd())) {
					return errors.New("requested load from stdin, but stdin is empty")
				}
				// As docker load: progress only on a terminal, and not
				// with -q; the "Loaded image" lines always.
				tmp, err := readArchive(cmd.Context(), os.Stdin, os.Stdout, !quiet && term.IsTerminal(int(os.Stdout.Fd())))
				if err != nil {
					return err
				}
				defer os.Remove(tmp)
				path = tmp
			}
			path, err := filepath.Abs(path)
			if err != nil {
				return err
			}
			return c.imagesCommand(cmd.Context(), ctl.Command{Verb: "load", Args: []string{path}})
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a tar archive file instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}

// readArchive copies an archive from in to a temporary file and returns its
// path. With progress it shows on out, as docker's progress bars, how much
// it has read (of how much, when in is a regular file).
func readArchive(ctx context.Context, in *os.File, out *os.File, progress bool) (string, error) {
	f, err := os.CreateTemp("", "dctl-load-*.tar")
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	var n atomic.Int64
	var total int64
	if st, err := in.Stat(); err == nil && st.Mode().IsRegular() {
		total = st.Size()
	}
	stop, shown := func() {}, make(chan struct{})
	if progress {
		pr, pw := io.Pipe()
		enc := json.NewEncoder(pw)
		emit := func(status string) {
			_ = enc.Encode(jsonmessage.JSONMessage{ID: "archive", Status: status,
				Progress: &jsonmessage.JSONProgress{Current: n.Load(), Total: total}})
		}
		done := make(chan struct{})
		go func() {
			defer close(shown)
			fd := out.Fd()
			_ = jsonmessage.DisplayJSONMessagesStream(pr, out, fd, true, nil)
		}()
		go func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			emit("Reading")
			for {
				select {
				case <-tick.C:
					emit("Reading")
				case <-done:
					_ = enc.Encode(jsonmessage.JSONMessage{ID: "archive", Status: "Read " + units.HumanSizeWithPrecision(float64(n.Load()), 3)})
					pw.Close()
					return
				}
			}
		}()
		stop = func() { close(done); <-shown }
	} else {
		close(shown)
	}
	_, err = io.Copy(countWriter{f, &n}, readerCtx{ctx, in})
	stop()
	if err != nil {
		return fail(fmt.Errorf("reading the archive from stdin: %w", err))
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	return f.Name(), nil
}

// countWriter counts what it writes to w.
type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// readerCtx stops reading once ctx is done (an interrupt).
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
