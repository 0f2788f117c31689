package fstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// Tree is the in-memory tree the suite serves, built from the fs kit only:
//
//	static/hello  a StaticDir with a Text file: "hello\n"
//	counter       ReadFile: "N\n", N counting the opens
//	value         ReadFile: the value last set through ctl, then "\n"
//	ctl           CtlFile, commands below; failures land in err
//	err           ErrFile of ctl
//	wait          BlockingFile: blocks until `release`, then "released N\n"
//	doc           DocFile holding a JSON document; writing JSON replaces it
//	log           HostFile over a temporary file that Append grows
//	dyn/          DirFunc of objects added and removed through ctl;
//	              dyn/NAME/id holds the object's serial number
//	host/         HostDir over a temporary directory (HostPath)
//
// ctl commands: `set VALUE`, `echo WORD...` (replies the words), `release`,
// `add NAME`, `rm NAME`, `fail CLASS MESSAGE...` where CLASS is one of
// notfound, exists, invalid, busy, permission, unavailable.
//
// Transports' own tests use a Tree to look at the server side: how many reads
// are blocked in wait, how many saw their context cancelled.
type Tree struct {
	root     fs.StaticDir
	logPath  string
	hostPath string
	errs     fs.ErrSlot

	opens     atomic.Int64
	waiting   atomic.Int64
	cancelled atomic.Int64

	mu      sync.Mutex
	value   string
	gen     int
	release chan struct{}
	serial  int
	objects map[string]int // name -> serial
	doc     []byte
}

// Classes maps the names ctl's `fail` takes to the errdefs classes.
var Classes = map[string]error{
	"notfound":    errdefs.ErrNotFound,
	"exists":      errdefs.ErrAlreadyExists,
	"invalid":     errdefs.ErrInvalid,
	"busy":        errdefs.ErrBusy,
	"permission":  errdefs.ErrPermission,
	"unavailable": errdefs.ErrUnavailable,
}

// NewTree returns a fresh tree whose log lives in t.TempDir().
func NewTree(t testing.TB) *Tree {
	tr := &Tree{
		logPath:  filepath.Join(t.TempDir(), "log"),
		hostPath: t.TempDir(),
		release:  make(chan struct{}),
		objects:  map[string]int{},
		doc:      []byte(`{"name":"test"}` + "\n"),
	}
	ctl := &fs.CtlFile{Exec: tr.exec, Errors: &tr.errs}
	tr.root = fs.StaticDir{
		{Name: "counter", Node: fs.ReadFile(tr.counter)},
		{Name: "ctl", Node: ctl},
		{Name: "doc", Node: &fs.DocFile{Read: tr.readDoc, Write: tr.writeDoc, Errors: &tr.errs}},
		{Name: "dyn", Node: &fs.DirFunc{List: tr.listObjects, Get: tr.getObject}},
		{Name: "err", Node: fs.ErrFile(&tr.errs)},
		{Name: "host", Node: fs.HostDir(tr.hostPath)},
		{Name: "log", Node: fs.HostFile(func() (string, error) { return tr.logPath, nil })},
		{Name: "static", Node: fs.StaticDir{{Name: "hello", Node: fs.Text("hello\n")}}},
		{Name: "value", Node: fs.ReadFile(tr.readValue)},
		{Name: "wait", Node: fs.BlockingFile(tr.wait)},
	}
	return tr
}

// Root returns the root directory to serve.
func (tr *Tree) Root() fs.Dir { return tr.root }

// HostPath returns the directory behind host/.
func (tr *Tree) HostPath() string { return tr.hostPath }

// LogPath returns the host file behind log.
func (tr *Tree) LogPath() string { return tr.logPath }

// Append adds text to the log file.
func (tr *Tree) Append(t testing.TB, text string) {
	t.Helper()
	f, err := os.OpenFile(tr.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// Waiting returns how many reads of wait are blocked right now.
func (tr *Tree) Waiting() int64 { return tr.waiting.Load() }

// Cancelled returns how many blocked reads of wait returned because their
// context was done.
func (tr *Tree) Cancelled() int64 { return tr.cancelled.Load() }

// Release releases every read of wait blocked so far, as `release` does.
func (tr *Tree) Release() {
	tr.mu.Lock()
	close(tr.release)
	tr.release = make(chan struct{})
	tr.gen++
	tr.mu.Unlock()
}

// WaitFor polls cond until it holds, failing the test after a few seconds.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (tr *Tree) counter(context.Context) ([]byte, error) {
	return []byte(strconv.FormatInt(tr.opens.Add(1), 10) + "\n"), nil
}

func (tr *Tree) readValue(context.Context) ([]byte, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return []byte(tr.value + "\n"), nil
}

func (tr *Tree) exec(_ context.Context, line string) (string, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", errdefs.Invalid("empty command")
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch f[0] {
	case "set":
		tr.mu.Lock()
		tr.value = strings.Join(f[1:], " ")
		tr.mu.Unlock()
		return "ok", nil
	case "echo":
		return strings.Join(f[1:], " "), nil
	case "release":
		tr.Release()
		return "", nil
	case "add":
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if _, ok := tr.objects[arg(1)]; ok {
			return "", errdefs.AlreadyExists("object %q already exists", arg(1))
		}
		tr.serial++
		tr.objects[arg(1)] = tr.serial
		return strconv.Itoa(tr.serial), nil
	case "rm":
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if _, ok := tr.objects[arg(1)]; !ok {
			return "", errdefs.NotFound("no object %q", arg(1))
		}
		delete(tr.objects, arg(1))
		return "", nil
	case "fail":
		class, ok := Classes[arg(1)]
		if !ok {
			return "", errdefs.Invalid("fail: unknown class %q", arg(1))
		}
		return "", errdefs.New(class, "%s", strings.Join(f[2:], " "))
	}
	return "", errdefs.Invalid("unknown command %q", f[0])
}

// wait fixes, at open, the release the read will wait for.
func (tr *Tree) wait(context.Context) (func(context.Context) ([]byte, error), error) {
	tr.mu.Lock()
	ch, gen := tr.release, tr.gen+1
	tr.mu.Unlock()
	return func(ctx context.Context) ([]byte, error) {
		tr.waiting.Add(1)
		defer tr.waiting.Add(-1)
		select {
		case <-ch:
			return fmt.Appendf(nil, "released %d\n", gen), nil
		case <-ctx.Done():
			tr.cancelled.Add(1)
			return nil, ctx.Err()
		}
	}, nil
}

func (tr *Tree) readDoc(context.Context) ([]byte, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return bytes.Clone(tr.doc), nil
}

func (tr *Tree) writeDoc(_ context.Context, doc []byte) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fs.ErrIncomplete
		}
		return errdefs.Invalid("doc: %v", err)
	}
	tr.mu.Lock()
	tr.doc = bytes.Clone(doc)
	tr.mu.Unlock()
	return nil
}

func (tr *Tree) listObjects(context.Context) ([]fs.DirEntry, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]fs.DirEntry, 0, len(tr.objects))
	for name := range tr.objects {
		out = append(out, fs.DirEntry{Name: name, Mode: os.ModeDir})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (tr *Tree) getObject(_ context.Context, name string) (fs.Node, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	serial, ok := tr.objects[name]
	if !ok {
		return nil, errdefs.NotFound("no object %q", name)
	}
	return object{tr: tr, name: name, serial: serial}, nil
}

// object is one entry of dyn/: a directory bound to one serial number, which
// answers not found once its object is removed (even if re-created).
type object struct {
	tr     *Tree
	name   string
	serial int
}

func (o object) alive() error {
	o.tr.mu.Lock()
	defer o.tr.mu.Unlock()
	if o.tr.objects[o.name] != o.serial {
		return errdefs.NotFound("object %s#%d is gone", o.name, o.serial)
	}
	return nil
}

// Attr implements fs.Node.
func (o object) Attr(context.Context) (fs.Attr, error) {
	if err := o.alive(); err != nil {
		return fs.Attr{}, err
	}
	return fs.Attr{Mode: os.ModeDir | 0o555}, nil
}

// Lookup implements fs.Dir.
func (o object) Lookup(_ context.Context, name string) (fs.Node, error) {
	if err := o.alive(); err != nil {
		return nil, err
	}
	if name != "id" {
		return nil, errdefs.NotFound("no file %q", name)
	}
	return fs.ReadFile(func(context.Context) ([]byte, error) {
		if err := o.alive(); err != nil {
			return nil, err
		}
		return []byte(strconv.Itoa(o.serial) + "\n"), nil
	}), nil
}

// ReadDir implements fs.Dir.
func (o object) ReadDir(context.Context) ([]fs.DirEntry, error) {
	if err := o.alive(); err != nil {
		return nil, err
	}
	return []fs.DirEntry{{Name: "id"}}, nil
}
