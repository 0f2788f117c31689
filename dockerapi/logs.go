package dockerapi

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// noReading is dockerd's answer (501) to docker logs for a container whose
// logging driver keeps nothing to read (none; syslog with cache-disabled),
// which the tree's logs file refuses to open with the same words.
type noReading struct{}

func (noReading) Error() string { return "configured logging driver does not support reading" }
func (noReading) Unwrap() error { return errNotImplemented }

// logOptions are docker logs' options, which the tree's logs file takes.
type logOptions struct {
	stdout, stderr, timestamps, follow bool
	tail, since, until                 string
}

// line is the options line written to containers/<id>/logs; the output is
// asked for in docker's framing.
func (o logOptions) line() string {
	return verbs.Line(verbs.Logs{NoStdout: !o.stdout, NoStderr: !o.stderr, Format: "framed", Timestamps: o.timestamps,
		Follow: o.follow, Tail: o.tail, Since: o.since, Until: o.until})
}

// openLogs opens a container's logs file with the options written.
func (s *Server) openLogs(ctx context.Context, ref string, o logOptions) (fs.Handle, error) {
	h, err := s.tree.Open(ctx, "containers/"+ref+"/logs", os.O_RDWR)
	if err != nil {
		return nil, noSuchContainer(err, ref)
	}
	if _, err := h.WriteAt(ctx, []byte(o.line()+"\n"), 0); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// logs returns a container's log so far, framed.
func (s *Server) logs(ctx context.Context, ref string, o logOptions) ([]byte, error) {
	o.follow = false
	h, err := s.openLogs(ctx, ref, o)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return fs.ReadHandle(ctx, h)
}

// containerLogs is GET /containers/{name}/logs: multiplexed frames for a
// container without a terminal, raw output for one with a terminal.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	o := logOptions{
		stdout: boolValue(r, "stdout"), stderr: boolValue(r, "stderr"),
		timestamps: boolValue(r, "timestamps"), follow: boolValue(r, "follow"),
		tail: q.Get("tail"), since: q.Get("since"), until: q.Get("until"),
	}
	if !o.stdout && !o.stderr {
		return errdefs.Invalid("Bad parameters: you must choose at least one stream")
	}
	if n, err := strconv.Atoi(o.tail); err != nil || n < 0 {
		o.tail = "all"
	}
	if o.since == "0" {
		o.since = ""
	}
	if o.until == "0" {
		o.until = ""
	}
	ir, err := s.inspect(ctx, r.PathValue("name"))
	if err != nil {
		return err
	}
	h, err := s.openLogs(ctx, ir.ID, o)
	if err != nil {
		if strings.Contains(err.Error(), noReading{}.Error()) {
			// none, or syslog without dockerd's dual-logging cache.
			return noReading{}
		}
		return err
	}
	defer h.Close()
	tty := ir.Config.Tty
	contentType := types.MediaTypeRawStream
	if !tty && compareVersions(apiVersion(r), "1.42") >= 0 {
		contentType = types.MediaTypeMultiplexedStream
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	flush(w)
	var d deframer
	buf := make([]byte, 64*1024)
	for {
		n, err := h.ReadAt(ctx, buf, 0)
		if n > 0 {
			out := buf[:n]
			if tty {
				out = d.feed(out)
			}
			if _, werr := w.Write(out); werr != nil {
				return werr
			}
			flush(w)
		}
		if err == io.EOF || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// deframer strips docker's frame headers from a framed stream that arrives
// in pieces cut anywhere.
type deframer struct{ buf []byte }

// feed adds p and returns the payload bytes of the frames now whole.
func (d *deframer) feed(p []byte) []byte {
	d.buf = append(d.buf, p...)
	var out []byte
	for len(d.buf) >= 8 {
		n := int(binary.BigEndian.Uint32(d.buf[4:8]))
		if len(d.buf) < 8+n {
			break
		}
		out = append(out, d.buf[8:8+n]...)
		d.buf = d.buf[8+n:]
	}
	return out
}
