package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/enginefs/enginefs/fs"
)

func (c *cli) loadCmd() *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive (docker-save or OCI) or STDIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in := os.Stdin
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if term.IsTerminal(int(os.Stdin.Fd())) {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			// As docker load: progress only on a terminal, and not with
			// -q; the "Loaded image" lines always.
			return c.load(cmd.Context(), in, !quiet && term.IsTerminal(int(os.Stdout.Fd())))
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a tar archive file instead of STDIN")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the load output")
	return cmd
}

// load sends the archive in through the tree's images/load (the daemon may
// be on another host) and prints what the daemon loaded. With progress it
// shows on stdout, as docker's progress bars, how much it has sent (of how
// much, when in is a regular file).
func (c *cli) load(ctx context.Context, in *os.File, progress bool) error {
	client, err := c.connect(ctx)
	if err != nil {
		return err
	}
	h, err := client.Open(ctx, "images/load", os.O_RDWR)
	if err != nil {
		return err
	}
	defer h.Close()
	out := os.Stdout
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
			emit("Sending")
			for {
				select {
				case <-tick.C:
					emit("Sending")
				case <-done:
					_ = enc.Encode(jsonmessage.JSONMessage{ID: "archive", Status: "Sent " + units.HumanSizeWithPrecision(float64(n.Load()), 3)})
					pw.Close()
					return
				}
			}
		}()
		stop = func() { close(done); <-shown }
	} else {
		close(shown)
	}
	w := &handleWriter{ctx: ctx, h: h}
	_, err = io.Copy(countWriter{w, &n}, readerCtx{ctx, in})
	stop()
	if err != nil {
		// Drop what was sent: the daemon would load it at the close.
		if t, ok := h.(fs.Truncater); ok {
			_ = t.Truncate(context.WithoutCancel(ctx), 0)
		}
		if w.err != nil {
			return c.withMessage(ctx, client, "images/err", w.err)
		}
		return fmt.Errorf("reading the archive: %w", err)
	}
	reply, err := fs.ReadHandle(ctx, h)
	if err != nil {
		return c.withMessage(ctx, client, "images/err", err)
	}
	if s := strings.TrimSpace(string(reply)); s != "" {
		fmt.Println(s)
	}
	return nil
}

// handleWriter writes an open file of the tree from its start, keeping the
// error of the tree apart from that of the reader.
type handleWriter struct {
	ctx context.Context
	h   fs.Handle
	off int64
	err error
}

func (w *handleWriter) Write(p []byte) (int, error) {
	n, err := w.h.WriteAt(w.ctx, p, w.off)
	w.off += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	w.err = err
	return n, err
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
