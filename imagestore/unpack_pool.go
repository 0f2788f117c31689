package imagestore

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Creating a file costs the kernel far more than writing a small one, so
// the small regular files of a layer are written by a few workers while
// the tar stream goes on; directories, links, devices and whiteouts are
// made in order by Unpack itself. An entry whose path, or a parent of it,
// or whose hard link target, is still being written waits for the workers
// first, so every entry sees the ones before it as tar order says.
const (
	unpackWorkers = 4
	maxPooledFile = 1 << 20
)

// filePool is the workers of one Unpack.
type filePool struct {
	u    *unpacker
	jobs chan fileJob
	done sync.WaitGroup // the workers
	busy sync.WaitGroup // jobs not finished

	mu       sync.Mutex
	err      error
	inflight map[string]bool // rel paths being written
}

// fileJob is a regular file to write: its parent's descriptor (the job's
// own, closed by the worker) and its content.
type fileJob struct {
	hdr  *tar.Header
	pfd  int
	base string
	rel  string
	data []byte
}

func newFilePool(u *unpacker, n int) *filePool {
	p := &filePool{u: u, jobs: make(chan fileJob), inflight: map[string]bool{}}
	for range n {
		p.done.Add(1)
		go p.work()
	}
	return p
}

func (p *filePool) work() {
	defer p.done.Done()
	for j := range p.jobs {
		err := p.u.file(j.hdr, j.pfd, j.base, bytes.NewReader(j.data))
		unix.Close(j.pfd)
		p.mu.Lock()
		delete(p.inflight, j.rel)
		if err != nil && p.err == nil {
			p.err = err
		}
		p.mu.Unlock()
		p.busy.Done()
	}
}

// file reads a small file's content and hands it to a worker.
func (p *filePool) file(hdr *tar.Header, pfd int, base, rel string, r io.Reader) error {
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(r, data); err != nil {
		return readError(err, fmt.Sprintf("layer entry %q: copying content", hdr.Name))
	}
	fd, err := unix.Dup(pfd)
	if err != nil {
		return p.u.fail(hdr, "dup", err)
	}
	unix.CloseOnExec(fd)
	p.mu.Lock()
	p.inflight[rel] = true
	p.mu.Unlock()
	p.busy.Add(1)
	p.jobs <- fileJob{hdr: hdr, pfd: fd, base: base, rel: rel, data: data}
	return nil
}

// order waits for the workers when the entry at rel must see a file they
// are still writing: the same path, a parent of it, something below it
// (which the entry may remove), or a hard link's target. It returns a
// worker's error, if one failed.
func (p *filePool) order(hdr *tar.Header, rel string) error {
	p.mu.Lock()
	conflict := len(p.inflight) > 0 && p.touches(rel)
	if !conflict && hdr.Typeflag == tar.TypeLink {
		if t, ok := cleanName(hdr.Linkname); ok {
			conflict = p.touches(t)
		}
	}
	if !conflict {
		if dir, base := splitName(rel); strings.HasPrefix(base, whiteoutPrefix) {
			conflict = p.touches(strings.TrimPrefix(dir+"/"+strings.TrimPrefix(base, whiteoutPrefix), "./"))
		}
	}
	p.mu.Unlock()
	if conflict {
		return p.drain()
	}
	return nil
}

// touches reports whether rel, one of its parents or something below it
// is being written: an entry that replaces a directory removes what is
// below it. p.mu is held; inflight holds a few paths at most (one per
// worker and the one waiting to be handed over).
func (p *filePool) touches(rel string) bool {
	for path := range p.inflight {
		if path == rel || strings.HasPrefix(path, rel+"/") || strings.HasPrefix(rel, path+"/") {
			return true
		}
	}
	return false
}

// drain waits for every file handed out and returns the first error.
func (p *filePool) drain() error {
	p.busy.Wait()
	return p.failed()
}

// failed returns a worker's error, if any.
func (p *filePool) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// close waits for the jobs and stops the workers.
func (p *filePool) close() {
	p.busy.Wait()
	close(p.jobs)
	p.done.Wait()
}
