package logs

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// MaxJSONLine is the longest line a JSONFile entry holds, docker's: a
// longer line is cut into entries of this size, the last ending in "\n".
const MaxJSONLine = 16 << 10

// JSONFileConfig is where and how a JSONFile writes: docker's json-file
// driver and its max-size, max-file and compress options.
type JSONFileConfig struct {
	Path     string // the current file; rotated ones are Path.1, Path.2 (.gz)
	MaxSize  int64  // rotate before a write would pass it; 0: never
	MaxFile  int    // files kept, the current one included; 0 is 1
	Compress bool   // gzip the rotated files (Path.1.gz, ...)
}

// JSONFile writes a process's output in docker's json-file format: one JSON
// object per line, {"log":"...\n","stream":"stdout","time":"RFC3339Nano"},
// rotated as docker's jsonfilelog rotates (file, file.1, file.2.gz, ...).
// The keeper writes one beside the log of a container whose driver is
// json-file or local; it is safe for concurrent use.
type JSONFile struct {
	cfg     JSONFileConfig
	mu      sync.Mutex
	f       *os.File
	size    int64
	partial [3][]byte // per stream: bytes of a line not yet ended
}

// jsonEntry is one line of the file, docker's jsonlog.JSONLog.
type jsonEntry struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

// CreateJSONFile opens (appending) the file of cfg.
func CreateJSONFile(cfg JSONFileConfig) (*JSONFile, error) {
	if cfg.MaxFile < 1 {
		cfg.MaxFile = 1
	}
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, errdefs.Unavailable("json log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errdefs.Unavailable("json log: %w", err)
	}
	return &JSONFile{cfg: cfg, f: f, size: st.Size()}, nil
}

// Write adds p, output of stream s read at t: an entry for each line it
// ends, the rest held until its line ends, grows past MaxJSONLine, or Close.
func (j *JSONFile) Write(s Stream, p []byte, t time.Time) error {
	if s != Stdout && s != Stderr {
		return errdefs.Invalid("json log: stream %d", s)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for len(p) > 0 {
		buf := j.partial[s]
		i := indexNL(p)
		room := MaxJSONLine - len(buf)
		switch {
		case i >= 0 && i < room:
			line := append(buf, p[:i+1]...)
			j.partial[s], p = buf[:0], p[i+1:]
			if err := j.entry(s, line, t); err != nil {
				return err
			}
		case len(p) < room:
			j.partial[s] = append(buf, p...)
			p = nil
		default:
			line := append(buf, p[:room]...)
			j.partial[s], p = buf[:0], p[room:]
			if err := j.entry(s, line, t); err != nil {
				return err
			}
		}
	}
	return nil
}

func indexNL(p []byte) int {
	for i, b := range p {
		if b == '\n' {
			return i
		}
	}
	return -1
}

// entry writes one line, rotating first when it would pass MaxSize.
func (j *JSONFile) entry(s Stream, line []byte, t time.Time) error {
	b, err := json.Marshal(jsonEntry{Log: string(line), Stream: s.String(), Time: t.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return errdefs.Invalid("json log: %w", err)
	}
	b = append(b, '\n')
	if j.cfg.MaxSize > 0 && j.size > 0 && j.size+int64(len(b)) > j.cfg.MaxSize {
		if err := j.rotate(); err != nil {
			return err
		}
	}
	n, err := j.f.Write(b)
	j.size += int64(n)
	if err != nil {
		return errdefs.Unavailable("json log: %w", err)
	}
	return nil
}

// rotate shifts the files as docker does: Path.(N-1) to Path.N, ...,
// Path to Path.1 (gzipped with Compress), dropping the oldest, and starts
// an empty Path.
func (j *JSONFile) rotate() error {
	if err := j.f.Close(); err != nil {
		return errdefs.Unavailable("json log: %w", err)
	}
	ext := ""
	if j.cfg.Compress {
		ext = ".gz"
	}
	name := func(i int) string { return j.cfg.Path + "." + strconv.Itoa(i) + ext }
	if j.cfg.MaxFile > 1 {
		_ = os.Remove(name(j.cfg.MaxFile - 1))
		_ = os.Remove(j.cfg.Path + "." + strconv.Itoa(j.cfg.MaxFile-1))
		for i := j.cfg.MaxFile - 2; i >= 1; i-- {
			if err := os.Rename(name(i), name(i+1)); err != nil && !os.IsNotExist(err) {
				return errdefs.Unavailable("json log: %w", err)
			}
		}
		if err := j.shift(name(1)); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(j.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return errdefs.Unavailable("json log: %w", err)
	}
	j.f, j.size = f, 0
	return nil
}

// shift moves the current file to dst. With Compress it is renamed to
// dst without ".gz" first (so a follower holding it reads it to its end, as
// docker's does), then gzipped into dst and removed.
func (j *JSONFile) shift(dst string) error {
	plain := strings.TrimSuffix(dst, ".gz")
	if err := os.Rename(j.cfg.Path, plain); err != nil {
		return errdefs.Unavailable("json log: %w", err)
	}
	if !j.cfg.Compress {
		return nil
	}
	in, err := os.Open(plain)
	if err != nil {
		return errdefs.Unavailable("json log: %w", err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return errdefs.Unavailable("json log: %w", err)
	}
	zw := gzip.NewWriter(out)
	_, err = io.Copy(zw, in)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return errdefs.Unavailable("json log: compress %s: %w", plain, err)
	}
	_ = os.Remove(plain)
	return nil
}

// Close writes the lines still held (without their newline, as docker
// writes a partial line) and closes the file.
func (j *JSONFile) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	now := time.Now()
	for _, s := range []Stream{Stdout, Stderr} {
		if len(j.partial[s]) > 0 {
			if werr := j.entry(s, j.partial[s], now); werr != nil && err == nil {
				err = werr
			}
			j.partial[s] = nil
		}
	}
	if cerr := j.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("json log: %w", cerr)
	}
	return err
}
