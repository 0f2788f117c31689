package tree

import (
	"context"

	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/logs"
)

// output says which stream an output file shows.
type output logs.Stream

const (
	outStdout = output(logs.Stdout)
	outStderr = output(logs.Stderr)
)

// outputFile is a container's (or an exec's) stdout or stderr as a stream:
// a container's from the moment of the open (attach: open it before start to
// see a whole run), an exec's from its first byte. A read blocks until there
// is output and ends at EOF when the process has exited and all it wrote was
// read. With a terminal everything is on stdout.
func (t *tree) outputFile(id, execID string, which output) fs.StreamFile {
	return func(ctx context.Context) (fs.Stream, error) {
		r, err := t.e.OpenOutput(id, execID)
		if err != nil {
			return nil, err
		}
		if execID == "" {
			if err := r.SeekEnd(); err != nil {
				r.Close()
				return nil, err
			}
		}
		return &logStream{r: r, want: logs.Stream(which)}, nil
	}
}

// logStream follows one stream of a log.
type logStream struct {
	r    *logs.Reader
	want logs.Stream
}

func (s *logStream) Next(ctx context.Context) ([]byte, error) {
	for {
		e, err := s.r.Next(ctx, true)
		if err != nil {
			return nil, err
		}
		if e.Stream == s.want {
			return e.Data, nil
		}
	}
}

func (s *logStream) Close() error { return s.r.Close() }

// stdinFile is the stdin of a container (execID "") or of an exec: each write
// goes to the process's stdin or terminal. When a writer that wrote closes
// the file, a stdin without a terminal is closed too, for an exec always,
// for a container created with stdin-once (docker run -i): `echo hi > stdin`
// gives `cat` its input and its EOF. A terminal stays open, as in docker, so
// a client that detaches leaves the shell running.
func (t *tree) stdinFile(id, execID string) *fs.SinkFile {
	return &fs.SinkFile{
		Write: func(ctx context.Context, p []byte) error {
			return t.e.WriteStdin(ctx, id, execID, p)
		},
		Close: func() {
			if t.e.StdinClosesOnDetach(id, execID) {
				_ = t.e.CloseStdin(context.Background(), id, execID)
			}
		},
	}
}
