package main

import (
	"bytes"
	"context"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// fakeTree is an in-process tree of canned files, built with the fs kit,
// for driving dctl without a daemon. Nodes are set by path; a
// directory exists when a node is set below it. Every line written to a
// ctl file or a clone file is recorded as "PATH: LINE", in order, and
// answered by the handler given for that path (nil: an empty reply).
type fakeTree struct {
	mu    sync.Mutex
	nodes map[string]fs.Node
	lines []string
	sinks map[string]*bytes.Buffer
}

// answer is a ctl file's handler: its reply to a line, or its error.
type answer func(line string) (string, error)

func newFakeTree() *fakeTree {
	return &fakeTree{nodes: map[string]fs.Node{}, sinks: map[string]*bytes.Buffer{}}
}

func (f *fakeTree) set(p string, n fs.Node) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes[p] = n
}

// file serves content at p.
func (f *fakeTree) file(p, content string) {
	f.set(p, fs.Text(content))
}

// ctl makes p a ctl file answered by a (nil: an empty reply).
func (f *fakeTree) ctl(p string, a answer) {
	f.set(p, &fs.CtlFile{Exec: func(_ context.Context, line string) (string, error) { return f.exec(p, a, line) }})
}

func (f *fakeTree) exec(p string, a answer, line string) (string, error) {
	f.mu.Lock()
	f.lines = append(f.lines, p+": "+line)
	f.mu.Unlock()
	if a == nil {
		return "", nil
	}
	return a(line)
}

// clone makes p a clone file (builds/clone, images/pulls/clone): an open
// reads n until a line is written, and the lines written are recorded as
// p's and answered by a.
func (f *fakeTree) clone(p, n string, a answer) {
	f.set(p, cloneNode{f: f, p: p, n: n, a: a})
}

// sink makes p a write-only file (a build's context) whose bytes are kept.
func (f *fakeTree) sink(p string) {
	f.mu.Lock()
	f.sinks[p] = &bytes.Buffer{}
	f.mu.Unlock()
	f.set(p, &fs.SinkFile{Write: func(_ context.Context, b []byte) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.sinks[p].Write(b)
		return nil
	}})
}

// stream makes p a stream file (progress, events) that gives the chunks
// in order and then ends.
func (f *fakeTree) stream(p string, chunks ...string) {
	f.set(p, fs.StreamFile(func(context.Context) (fs.Stream, error) {
		return &chunkStream{chunks: append([]string(nil), chunks...)}, nil
	}))
}

// optsFile makes p a file that takes one line of options and is then read
// as a stream of content (a container's logs): the line is recorded as
// p's.
func (f *fakeTree) optsFile(p, content string) {
	f.set(p, optsNode{f: f, p: p, content: content})
}

// written returns what was written to the sink p.
func (f *fakeTree) written(p string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.sinks[p].Bytes())
}

// recorded returns the lines written so far and forgets them.
func (f *fakeTree) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.lines
	f.lines = nil
	return out
}

func (f *fakeTree) lookup(p string) (fs.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.nodes[p]; ok {
		return n, nil
	}
	for k := range f.nodes {
		if strings.HasPrefix(k, p+"/") {
			return f.dir(p), nil
		}
	}
	return nil, errdefs.NotFound("no file %q", p)
}

// dir is the directory at prefix ("" the root).
func (f *fakeTree) dir(prefix string) fs.Dir {
	return &fs.DirFunc{
		List: func(context.Context) ([]fs.DirEntry, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			seen := map[string]fs.DirEntry{}
			for k, n := range f.nodes {
				rest := k
				if prefix != "" {
					var ok bool
					if rest, ok = strings.CutPrefix(k, prefix+"/"); !ok {
						continue
					}
				}
				name, below, deeper := strings.Cut(rest, "/")
				if deeper && below != "" {
					seen[name] = fs.DirEntry{Name: name, Mode: fs.ModeOf(f.dir(""))}
				} else if _, ok := seen[name]; !ok {
					seen[name] = fs.DirEntry{Name: name, Mode: fs.ModeOf(n)}
				}
			}
			out := make([]fs.DirEntry, 0, len(seen))
			for _, e := range seen {
				out = append(out, e)
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
			return out, nil
		},
		Get: func(_ context.Context, name string) (fs.Node, error) { return f.lookup(path.Join(prefix, name)) },
	}
}

// sameLines compares recorded lines with the lines wanted.
func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
		t.Errorf("%s: the tree got the lines\n\t%s\nwant\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

type chunkStream struct {
	mu     sync.Mutex
	chunks []string
}

func (s *chunkStream) Next(context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.chunks) == 0 {
		return nil, io.EOF
	}
	c := s.chunks[0]
	s.chunks = s.chunks[1:]
	return []byte(c), nil
}

func (s *chunkStream) Close() error { return nil }

// cloneNode is a clone file of the fake tree.
type cloneNode struct {
	f    *fakeTree
	p, n string
	a    answer
}

func (cloneNode) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o644}, nil }

func (c cloneNode) Open(ctx context.Context, flag int) (fs.Handle, error) {
	h, err := (&fs.CtlFile{Exec: func(_ context.Context, line string) (string, error) { return c.f.exec(c.p, c.a, line) }}).Open(ctx, flag)
	if err != nil {
		return nil, err
	}
	return &cloneHandle{ctl: h, id: []byte(c.n + "\n")}, nil
}

type cloneHandle struct {
	ctl   fs.Handle
	id    []byte
	wrote atomic.Bool
}

func (h *cloneHandle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if !h.wrote.Load() {
		if off >= int64(len(h.id)) {
			return 0, io.EOF
		}
		return copy(p, h.id[off:]), nil
	}
	return h.ctl.ReadAt(ctx, p, off)
}

func (h *cloneHandle) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	h.wrote.Store(true)
	return h.ctl.WriteAt(ctx, p, off)
}

func (h *cloneHandle) Close() error { return h.ctl.Close() }

// optsNode is a file of the fake tree written with one line of options and
// read as a stream.
type optsNode struct {
	f          *fakeTree
	p, content string
}

func (optsNode) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o644}, nil }

func (o optsNode) Open(context.Context, int) (fs.Handle, error) {
	return &optsHandle{o: o, rest: []byte(o.content)}, nil
}

type optsHandle struct {
	o    optsNode
	mu   sync.Mutex
	rest []byte
}

func (h *optsHandle) WriteAt(_ context.Context, p []byte, _ int64) (int, error) {
	_, err := h.o.f.exec(h.o.p, nil, strings.TrimSuffix(string(p), "\n"))
	return len(p), err
}

func (h *optsHandle) ReadAt(_ context.Context, p []byte, _ int64) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, h.rest)
	h.rest = h.rest[n:]
	return n, nil
}

func (h *optsHandle) Close() error { return nil }
