package logs

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/errdefs"
)

// JSONFollowPoll is how often a JSONReader that follows looks at the
// current file again once it has read all of it (docker's json-file
// follower polls where it cannot watch, too).
const JSONFollowPoll = 100 * time.Millisecond

// JSONReader reads what a JSONFile wrote, as docker logs reads a json-file
// or local container: the rotated files oldest first (Path.N ... Path.1,
// gzipped ones decompressed on the fly), then the current file, whose
// rotation a follower follows. A JSONReader is used by one goroutine at a
// time.
type JSONReader struct {
	path string

	queue []*jsonSource // opened at Open: the rotated files then the current one
	cur   *jsonSource   // the one being read; live once it is the current file

	partial []byte // a line of the live file not yet ended
	closed  bool
}

// jsonSource is one opened file of a JSONReader.
type jsonSource struct {
	f    *os.File
	r    *bufio.Reader
	gz   *gzip.Reader
	live bool   // the file at path when opened: it may grow, be renamed or truncated
	off  int64  // bytes of f consumed (live files only)
	ino  uint64 // f's inode
	dev  uint64
}

// OpenJSONFile opens the files of the JSONFile at path for reading from
// their first entry: every rotated file that exists and the current one,
// all at once, so a rotation while the reader reads loses nothing that
// was there. A missing current file reads as empty until it is created.
func OpenJSONFile(path string) (*JSONReader, error) {
	r := &JSONReader{path: path}
	rotated, err := rotatedFiles(path)
	if err != nil {
		return nil, err
	}
	for _, name := range rotated {
		s, err := openSource(name, false)
		if errors.Is(err, fs.ErrNotExist) {
			continue // rotated away since the listing
		}
		if err != nil {
			r.closeAll()
			return nil, err
		}
		r.queue = append(r.queue, s)
	}
	s, err := openSource(path, true)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		r.closeAll()
		return nil, err
	default:
		r.queue = append(r.queue, s)
	}
	return r, nil
}

// rotatedFiles lists path.N and path.N.gz, oldest (highest N) first; of a
// file present both ways (compressed while listed), the plain one.
func rotatedFiles(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("json log %s: %w", path, err)
	}
	byN := map[int]string{}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok {
			continue
		}
		num, gz := strings.CutSuffix(rest, ".gz")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || strconv.Itoa(n) != num {
			continue
		}
		if old, ok := byN[n]; ok && !strings.HasSuffix(old, ".gz") && gz {
			continue
		}
		byN[n] = filepath.Join(dir, e.Name())
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ns)))
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = byN[n]
	}
	return names, nil
}

func openSource(name string, live bool) (*jsonSource, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	s := &jsonSource{f: f, live: live}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("json log %s: %w", name, err)
	}
	s.ino, s.dev = st.Ino, uint64(st.Dev)
	var in io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		// A file being compressed is renamed into place whole, so a
		// short gzip stream is one cut by a crash: read what it holds.
		gz, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			if errors.Is(err, io.EOF) {
				return &jsonSource{f: nil, r: bufio.NewReader(strings.NewReader(""))}, nil
			}
			return nil, errdefs.Invalid("json log %s: %w", name, err)
		}
		s.gz, in = gz, gz
	}
	s.r = bufio.NewReaderSize(in, 64<<10)
	return s, nil
}

func (s *jsonSource) close() {
	if s.gz != nil {
		s.gz.Close()
	}
	if s.f != nil {
		s.f.Close()
	}
}

// Next returns the next entry. At the end of what is written it returns
// io.EOF, unless follow is set: then it waits (looking again every
// JSONFollowPoll) for the next entry until ctx is done, going on in the
// new file when the current one is rotated (renamed away or truncated).
// Lines that are not entries (cut by a crash) are skipped; a done ctx
// returns its error.
func (r *JSONReader) Next(ctx context.Context, follow bool) (Entry, error) {
	if r.closed {
		return Entry{}, fmt.Errorf("json log %s: %w", r.path, fs.ErrClosed)
	}
	for {
		if r.cur == nil {
			if len(r.queue) > 0 {
				r.cur, r.queue = r.queue[0], r.queue[1:]
			} else if err := r.reopen(); err != nil {
				return Entry{}, err
			}
		}
		if r.cur != nil {
			line, err := r.cur.r.ReadBytes('\n')
			if r.cur.live {
				r.cur.off += int64(len(line))
			}
			switch {
			case err == nil:
				if r.partial != nil {
					line = append(r.partial, line...)
					r.partial = nil
				}
				if e, ok := decodeJSONLine(line); ok {
					return e, nil
				}
				continue
			case err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF):
				return Entry{}, fmt.Errorf("json log %s: %w", r.path, err)
			case !r.cur.live:
				// A rotated file ends with its last whole line.
				if e, ok := decodeJSONLine(line); ok {
					r.next()
					return e, nil
				}
				r.next()
				continue
			}
			r.partial = append(r.partial, line...)
			rotated, err := r.rotated()
			if err != nil {
				return Entry{}, err
			}
			if rotated {
				continue
			}
		}
		if !follow {
			return Entry{}, io.EOF
		}
		t := time.NewTimer(JSONFollowPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return Entry{}, ctx.Err()
		case <-t.C:
		}
	}
}

// next closes the file read to its end and moves on.
func (r *JSONReader) next() {
	r.cur.close()
	r.cur = nil
	r.partial = nil
}

// reopen opens the current file once it exists (a reader opened before
// the writer's first write).
func (r *JSONReader) reopen() error {
	s, err := openSource(r.path, true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("json log %s: %w", r.path, err)
	}
	r.cur = s
	return nil
}

// rotated reports whether the live file, read to its end, was rotated:
// renamed away (what it holds is read; the file now at path comes next) or
// truncated in place (read again from its start).
func (r *JSONReader) rotated() (bool, error) {
	s := r.cur
	var st syscall.Stat_t
	if err := syscall.Fstat(int(s.f.Fd()), &st); err != nil {
		return false, fmt.Errorf("json log %s: %w", r.path, err)
	}
	if st.Size < s.off {
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("json log %s: %w", r.path, err)
		}
		s.r.Reset(s.f)
		s.off, r.partial = 0, nil
		return true, nil
	}
	if st.Size > s.off {
		return true, nil // written since our read: read on
	}
	var now syscall.Stat_t
	if err := syscall.Stat(r.path, &now); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil // between the rename and the new file
		}
		return false, fmt.Errorf("json log %s: %w", r.path, err)
	}
	if now.Ino == s.ino && uint64(now.Dev) == s.dev {
		return false, nil
	}
	// Renamed away: but it may have grown between our look at its size
	// and the rename. Read it to its end first.
	if err := syscall.Fstat(int(s.f.Fd()), &st); err != nil {
		return false, fmt.Errorf("json log %s: %w", r.path, err)
	}
	if st.Size > s.off {
		return true, nil
	}
	// The writer closed the old file before renaming it: we have read it
	// all. The file now at path comes next, after the files rotated
	// since (found by our file's inode where it was not compressed).
	ino, dev := s.ino, s.dev
	r.next()
	names, err := rotatedFiles(r.path)
	if err != nil {
		return false, err
	}
	for i, name := range names {
		var st syscall.Stat_t
		if syscall.Stat(name, &st) != nil || st.Ino != ino || uint64(st.Dev) != dev {
			continue
		}
		for _, newer := range names[i+1:] {
			if ns, err := openSource(newer, false); err == nil {
				r.queue = append(r.queue, ns)
			}
		}
		break
	}
	return true, nil
}

// decodeJSONLine reads one line of a json-file log.
func decodeJSONLine(line []byte) (Entry, bool) {
	if len(line) == 0 {
		return Entry{}, false
	}
	var j jsonEntry
	if err := json.Unmarshal(line, &j); err != nil {
		return Entry{}, false
	}
	e := Entry{Data: []byte(j.Log)}
	switch j.Stream {
	case "stdout":
		e.Stream = Stdout
	case "stderr":
		e.Stream = Stderr
	default:
		return Entry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return Entry{}, false
	}
	e.Time = t
	return e, true
}

func (r *JSONReader) closeAll() {
	if r.cur != nil {
		r.cur.close()
		r.cur = nil
	}
	for _, s := range r.queue {
		s.close()
	}
	r.queue = nil
}

// Close releases the reader. Closing twice is not an error.
func (r *JSONReader) Close() error {
	r.closed = true
	r.closeAll()
	return nil
}
