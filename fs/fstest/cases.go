package fstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

func names(ents []fs.DirEntry) []string {
	out := make([]string, len(ents))
	for i, e := range ents {
		out[i] = e.Name
	}
	return out
}

func readDir(t *testing.T, c fs.Client, name string) []fs.DirEntry {
	t.Helper()
	ents, err := c.ReadDir(testContext(t), name)
	if err != nil {
		t.Fatalf("readdir %q: %v", name, err)
	}
	return ents
}

func testStatic(t *testing.T, _ *Tree, c fs.Client) {
	if got := readFile(t, c, "static/hello"); got != "hello\n" {
		t.Errorf("static/hello = %q, want %q", got, "hello\n")
	}
	root := readDir(t, c, "")
	want := []string{"counter", "ctl", "doc", "dyn", "err", "host", "log", "static", "value", "wait"}
	if got := names(root); !slices.Equal(got, want) {
		t.Errorf("root lists %q, want %q", got, want)
	}
	for _, e := range root {
		if isDir := e.Name == "static" || e.Name == "dyn" || e.Name == "host"; e.Mode.IsDir() != isDir {
			t.Errorf("entry %s has mode %v", e.Name, e.Mode)
		}
	}
	if got := names(readDir(t, c, "static")); !slices.Equal(got, []string{"hello"}) {
		t.Errorf("static lists %q", got)
	}
	if got := readDir(t, c, "dyn"); len(got) != 0 {
		t.Errorf("dyn lists %q, want nothing", names(got))
	}
}

func testFreshReads(t *testing.T, _ *Tree, c fs.Client) {
	ctx := testContext(t)
	first, _ := strconv.Atoi(strings.TrimSpace(readFile(t, c, "counter")))
	second, _ := strconv.Atoi(strings.TrimSpace(readFile(t, c, "counter")))
	if first < 1 || second <= first {
		t.Errorf("counter read %d then %d: each open must see fresh content", first, second)
	}

	// One open is one snapshot, however it is read.
	h, err := c.Open(ctx, "counter", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p := make([]byte, 1)
	if _, err := h.ReadAt(ctx, p, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	rest, err := fs.ReadHandle(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if third := strconv.Itoa(second+1) + "\n"; string(rest) != third || p[0] != third[0] {
		t.Errorf("reading one open in pieces gave %q then %q, want %q", p, rest, third)
	}
}

func testCtl(t *testing.T, _ *Tree, c fs.Client) {
	if got := command(t, c, "set blue sky"); got != "ok" {
		t.Errorf("set replied %q, want ok", got)
	}
	if got := readFile(t, c, "value"); got != "blue sky\n" {
		t.Errorf("value = %q after set", got)
	}
	if got := command(t, c, "echo a b  c"); got != "a b c" {
		t.Errorf("echo replied %q", got)
	}

	// Several lines in one write run in order; the reply has one line each.
	ctx := testContext(t)
	h, err := c.Open(ctx, "ctl", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	in := "set red\necho done\n"
	if n, err := h.WriteAt(ctx, []byte(in), 0); err != nil || n != len(in) {
		t.Fatalf("write %q: %d, %v", in, n, err)
	}
	if reply, err := fs.ReadHandle(ctx, h); err != nil || string(reply) != "ok\ndone\n" {
		t.Errorf("reply %q, %v; want %q", reply, err, "ok\ndone\n")
	}
	if got := readFile(t, c, "value"); got != "red\n" {
		t.Errorf("value = %q after set red", got)
	}
}

func testCtlErrors(t *testing.T, _ *Tree, c fs.Client) {
	for name, class := range Classes {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			msg := fmt.Sprintf("cannot do %s things", name)
			_, err := fs.Command(ctx, c, "ctl", "fail "+name+" "+msg)
			if !errors.Is(err, class) {
				t.Errorf("error %v (errno %d) is not of class %v", err, ErrnoOf(err), class)
			}
			if err == nil || err.Error() != msg {
				t.Errorf("error message %q, want %q", err, msg)
			}
			if got := readFile(t, c, "err"); got != msg+"\n" {
				t.Errorf("err = %q, want %q", got, msg+"\n")
			}

			// The raw write fails with exactly the class's errno.
			h, err := c.Open(ctx, "ctl", os.O_WRONLY)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			_, err = h.WriteAt(ctx, []byte("fail "+name+" again\n"), 0)
			if want := fs.Errno(class); ErrnoOf(err) != want {
				t.Errorf("write failed with %v, want errno %d (%v)", err, want, want)
			}
		})
	}
	_, err := fs.Command(testContext(t), c, "ctl", "frobnicate")
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(fmt.Sprint(err), "frobnicate") {
		t.Errorf("unknown command: %v, want invalid argument naming it", err)
	}
}

func testNotFound(t *testing.T, _ *Tree, c fs.Client) {
	ctx := testContext(t)
	for _, name := range []string{"missing", "static/missing", "dyn/missing", "dyn/missing/id"} {
		if _, err := c.Open(ctx, name, os.O_RDONLY); ErrnoOf(err) != syscall.ENOENT {
			t.Errorf("open %s: %v, want ENOENT", name, err)
		} else if !errors.Is(fs.ClassOf(ErrnoOf(err)), errdefs.ErrNotFound) {
			t.Errorf("open %s: errno %v is not classed not found", name, err)
		}
	}
	if _, err := c.ReadDir(ctx, "missing"); ErrnoOf(err) != syscall.ENOENT {
		t.Errorf("readdir missing: %v, want ENOENT", err)
	}
}

func testReadOnly(t *testing.T, _ *Tree, c fs.Client) {
	ctx := testContext(t)
	for _, name := range []string{"static/hello", "counter", "value", "err", "wait", "log"} {
		for _, flag := range []int{os.O_WRONLY, os.O_RDWR} {
			h, err := c.Open(ctx, name, flag)
			if err == nil {
				h.Close()
			}
			if e := ErrnoOf(err); e != syscall.EACCES && e != syscall.EPERM {
				t.Errorf("open %s with flag %#x: %v, want EACCES or EPERM", name, flag, err)
			} else if !errors.Is(fs.ClassOf(e), errdefs.ErrPermission) {
				t.Errorf("open %s: errno %v is not classed permission", name, e)
			}
		}
	}
}

func testDoc(t *testing.T, _ *Tree, c fs.Client) {
	if got := readFile(t, c, "doc"); got != `{"name":"test"}`+"\n" {
		t.Errorf("doc = %q", got)
	}
	ctx := testContext(t)
	write := func(parts ...string) error {
		h, err := c.Open(ctx, "doc", os.O_WRONLY|os.O_TRUNC)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		off := int64(0)
		for _, p := range parts {
			n, err := h.WriteAt(ctx, []byte(p), off)
			if err != nil {
				return err
			}
			off += int64(n)
		}
		return nil
	}
	// A document cut in two writes is applied once whole.
	if err := write(`{"name":`, `"new"}`); err != nil {
		t.Fatalf("write doc: %v", err)
	}
	if got := readFile(t, c, "doc"); got != `{"name":"new"}` {
		t.Errorf("doc = %q after rewrite", got)
	}
	err := write(`}{`)
	if !errors.Is(fs.ClassOf(ErrnoOf(err)), errdefs.ErrInvalid) {
		t.Errorf("bad document: %v, want EINVAL", err)
	}
	if got := readFile(t, c, "err"); !strings.HasPrefix(got, "doc: ") {
		t.Errorf("err = %q after a bad document", got)
	}
}

func testBlocking(t *testing.T, tr *Tree, c fs.Client) {
	ctx := testContext(t)
	for gen := 1; gen <= 2; gen++ {
		h, err := c.Open(ctx, "wait", os.O_RDONLY)
		if err != nil {
			t.Fatal(err)
		}
		ch := readAsync(ctx, h)
		WaitFor(t, "the read of wait to block", func() bool { return tr.Waiting() == 1 })
		select {
		case r := <-ch:
			t.Fatalf("read of wait returned %q, %v before release", r.data, r.err)
		case <-time.After(50 * time.Millisecond):
		}
		// Released through ctl while the read is blocked on the same client.
		command(t, c, "release")
		want := fmt.Sprintf("released %d\n", gen)
		if r := await(t, "the released read", ch); r.err != nil || r.data != want {
			t.Errorf("read of wait: %q, %v; want %q", r.data, r.err, want)
		}
		h.Close()
	}
}

func testBlockingCancel(t *testing.T, tr *Tree, c fs.Client) {
	ctx := testContext(t)
	h, err := c.Open(ctx, "wait", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rctx, cancel := context.WithCancel(ctx)
	ch := readAsync(rctx, h)
	WaitFor(t, "the read of wait to block", func() bool { return tr.Waiting() == 1 })
	cancel()
	r := await(t, "the cancelled read", ch)
	if r.err == nil {
		t.Fatalf("cancelled read returned %q and no error", r.data)
	}
	if !errors.Is(r.err, context.Canceled) && ErrnoOf(r.err) != syscall.EINTR {
		t.Errorf("cancelled read: %v, want context.Canceled or EINTR", r.err)
	}
	WaitFor(t, "the server to see the cancellation", func() bool { return tr.Cancelled() >= 1 && tr.Waiting() == 0 })

	// The open file and the client still work.
	ch = readAsync(ctx, h)
	WaitFor(t, "the second read of wait to block", func() bool { return tr.Waiting() == 1 })
	tr.Release()
	if r := await(t, "the released read", ch); r.err != nil || r.data != "released 1\n" {
		t.Errorf("read after cancel: %q, %v", r.data, r.err)
	}
	if got := readFile(t, c, "static/hello"); got != "hello\n" {
		t.Errorf("static/hello = %q after a cancel", got)
	}
}

func testGrowingFile(t *testing.T, tr *Tree, c fs.Client) {
	ctx := testContext(t)
	sc, canStat := c.(StatClient)
	checkSize := func(want int64) {
		t.Helper()
		if !canStat {
			return
		}
		a, err := sc.Stat(ctx, "log")
		if err != nil {
			t.Fatalf("stat log: %v", err)
		}
		if a.Size != want {
			t.Errorf("log size %d, want %d", a.Size, want)
		}
	}
	if got := readFile(t, c, "log"); got != "" {
		t.Errorf("log = %q before anything was written", got)
	}
	tr.Append(t, "one\n")
	checkSize(4)
	h, err := c.Open(ctx, "log", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if b, err := fs.ReadHandle(ctx, h); err != nil || string(b) != "one\n" {
		t.Fatalf("log = %q, %v", b, err)
	}
	// An open log follows the file as it grows, as tail -f reads it.
	tr.Append(t, "two\n")
	checkSize(8)
	p := make([]byte, 64)
	n, err := h.ReadAt(ctx, p, 4)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if string(p[:n]) != "two\n" {
		t.Errorf("reading on from offset 4: %q, want %q", p[:n], "two\n")
	}
	if got := readFile(t, c, "log"); got != "one\ntwo\n" {
		t.Errorf("log = %q", got)
	}
}

func testDirChanges(t *testing.T, _ *Tree, c fs.Client) {
	list := func() []string { return names(readDir(t, c, "dyn")) }
	command(t, c, "add a")
	if got := list(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("dyn lists %q after add a", got)
	}
	if got := readFile(t, c, "dyn/a/id"); got != "1\n" {
		t.Errorf("dyn/a/id = %q", got)
	}
	if got := names(readDir(t, c, "dyn/a")); !slices.Equal(got, []string{"id"}) {
		t.Errorf("dyn/a lists %q", got)
	}
	// Removed and re-created under the same name with no look in between
	// (a transport may still hold the old object under that name): it is
	// the new object that is served.
	command(t, c, "rm a")
	if got := command(t, c, "add a"); got != "2" {
		t.Fatalf("add a replied %q", got)
	}
	if got := readFile(t, c, "dyn/a/id"); got != "2\n" {
		t.Errorf("dyn/a/id = %q after re-creating a, want the new object's %q", got, "2\n")
	}
	command(t, c, "add b")
	command(t, c, "rm a")
	if got := list(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("dyn lists %q after rm a", got)
	}
	if _, err := c.Open(testContext(t), "dyn/a/id", os.O_RDONLY); ErrnoOf(err) != syscall.ENOENT {
		t.Errorf("open of a removed object: %v, want ENOENT", err)
	}
	if got := command(t, c, "add a"); got != "4" {
		t.Fatalf("add a replied %q", got)
	}
	if got := readFile(t, c, "dyn/a/id"); got != "4\n" {
		t.Errorf("dyn/a/id = %q after re-creating a again", got)
	}
	if got := list(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("dyn lists %q", got)
	}
}

func testConcurrent(t *testing.T, tr *Tree, c fs.Client) {
	ctx := testContext(t)
	h, err := c.Open(ctx, "wait", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	blocked := readAsync(ctx, h)
	WaitFor(t, "the read of wait to block", func() bool { return tr.Waiting() == 1 })

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				want := fmt.Sprintf("g%d i%d", g, i)
				if got, err := fs.Command(ctx, c, "ctl", "echo "+want); err != nil || got != want {
					t.Errorf("echo %s: %q, %v", want, got, err)
					return
				}
				if b, err := fs.ReadAll(ctx, c, "static/hello"); err != nil || string(b) != "hello\n" {
					t.Errorf("static/hello: %q, %v", b, err)
					return
				}
				if _, err := c.ReadDir(ctx, "static"); err != nil {
					t.Errorf("readdir static: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case r := <-blocked:
		t.Fatalf("blocked read returned %q, %v before release", r.data, r.err)
	default:
	}
	command(t, c, "release")
	if r := await(t, "the released read", blocked); r.err != nil || r.data != "released 1\n" {
		t.Errorf("read of wait: %q, %v", r.data, r.err)
	}
}
