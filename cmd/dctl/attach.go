package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/term"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/detachkeys"
	"github.com/enginefs/enginefs/fs"
)

// errDetached is returned when the user typed the detach keys.
var errDetached = errors.New("detached")

// detachReader passes input through until the detach keys are typed; a
// partial sequence is held back until it is known not to be one.
type detachReader struct {
	r  io.Reader
	sc detachkeys.Scanner
}

func (d *detachReader) Read(p []byte) (int, error) {
	buf := make([]byte, len(p))
	n, err := d.r.Read(buf)
	out, detached := d.sc.Feed(buf[:n])
	if detached {
		return copy(p, out), errDetached
	}
	return copy(p, out), err
}

// session connects the terminal to a process of the tree: a container (dir
// "containers/<id>/") or an exec ("containers/<id>/exec/<n>/").
type session struct {
	client     fs.Client
	dir        string
	tty        bool // the process has a terminal: one output stream, raw mode
	stdin      bool // forward this terminal's input
	detachKeys []byte
	outputs    []fs.Handle // stdout, and stderr without a terminal
	wait       fs.Handle
}

// open opens the output streams and the wait, before the process starts so
// that nothing of its run is missed.
func (s *session) open(ctx context.Context) error {
	names := []string{"stdout"}
	if !s.tty {
		names = append(names, "stderr")
	}
	for _, n := range names {
		h, err := s.client.Open(ctx, s.dir+n, os.O_RDONLY)
		if err != nil {
			s.close()
			return err
		}
		s.outputs = append(s.outputs, h)
	}
	w, err := s.client.Open(ctx, s.dir+"wait", os.O_RDONLY)
	if err != nil {
		s.close()
		return err
	}
	s.wait = w
	return nil
}

func (s *session) close() {
	for _, h := range s.outputs {
		h.Close()
	}
	if s.wait != nil {
		s.wait.Close()
	}
}

// run copies the streams until the process ends (its exit code) or the user
// detaches (errDetached). The process must have been started (or be running).
func (s *session) run(ctx context.Context) (int, error) {
	defer s.close()
	if s.tty && term.IsTerminal(int(os.Stdin.Fd())) {
		if old, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			defer term.Restore(int(os.Stdin.Fd()), old)
		}
		s.resize(ctx)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				s.resize(ctx)
			}
		}()
	}
	detached := make(chan struct{})
	if s.stdin {
		go s.forwardStdin(ctx, detached)
	}
	var wg sync.WaitGroup
	sinks := []io.Writer{os.Stdout, os.Stderr}
	errs := make([]error, len(s.outputs))
	for i, h := range s.outputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = copyStream(ctx, h, sinks[i])
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-detached:
		return 0, errDetached
	case <-ctx.Done():
		return 0, errors.New("interrupted; the container goes on running")
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	b, err := fs.ReadHandle(ctx, s.wait)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// copyStream copies a stream file to w until its EOF; a failed read is
// returned, not taken for the end of the output.
func copyStream(ctx context.Context, h fs.Handle, w io.Writer) error {
	buf := make([]byte, 32*1024)
	var off int64
	for {
		n, err := h.ReadAt(ctx, buf, off)
		if n > 0 {
			w.Write(buf[:n])
			off += int64(n)
		}
		if err == io.EOF || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the container's output: %w", err)
		}
	}
}

// forwardStdin copies this terminal's input to the process's stdin; at EOF
// it closes the stdin file, which ends the process's input; on the detach
// keys it closes detached.
func (s *session) forwardStdin(ctx context.Context, detached chan struct{}) {
	h, err := s.client.Open(ctx, s.dir+"stdin", os.O_WRONLY)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error: attaching stdin:", err)
		return
	}
	var r io.Reader = os.Stdin
	if s.tty {
		r = &detachReader{r: os.Stdin, sc: detachkeys.Scanner{Keys: s.detachKeys}}
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := h.WriteAt(ctx, buf[:n], 0); werr != nil {
				h.Close()
				return
			}
		}
		if errors.Is(err, errDetached) {
			close(detached)
			return // the stdin file stays open: detaching does not end the input
		}
		if err != nil {
			h.Close()
			return
		}
	}
}

// resize tells the process the size of this terminal.
func (s *session) resize(ctx context.Context) {
	cols, rows, err := term.GetSize(int(os.Stdin.Fd()))
	if err != nil || rows <= 0 || cols <= 0 {
		return
	}
	var v verbs.Verb = verbs.ContainerResize{Rows: strconv.Itoa(rows), Cols: strconv.Itoa(cols)}
	if strings.Contains(s.dir, "/exec/") {
		v = verbs.ExecResize{Rows: strconv.Itoa(rows), Cols: strconv.Itoa(cols)}
	}
	_, _ = fs.Command(ctx, s.client, s.dir+"ctl", verbs.Line(v))
}
