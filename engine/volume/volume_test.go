package volume

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/voldrv"
	"github.com/enginefs/enginefs/voldrv/local"
)

// memStore is a Store in memory.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Put(k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = append([]byte(nil), v...)
	return nil
}

func (s *memStore) Delete(k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

func (s *memStore) ForEach(fn func(string, []byte) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, s.m[k]); err != nil {
			return err
		}
	}
	return nil
}

// slowDriver counts the Creates of a driver and makes them slow, so that
// concurrent creates of one name meet.
type slowDriver struct {
	voldrv.Driver
	creates atomic.Int32
}

func (d *slowDriver) Create(ctx context.Context, name string, opts map[string]string) error {
	d.creates.Add(1)
	time.Sleep(20 * time.Millisecond)
	return d.Driver.Create(ctx, name, opts)
}

// event is one Emit call.
type event struct{ action, name string }

// open returns an opened manager over a local driver in a temporary
// directory, its store, the events it emits and a settable users table.
func open(t *testing.T, st *memStore) (*Manager, *slowDriver, func() []event, map[string][]string) {
	t.Helper()
	drv, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	slow := &slowDriver{Driver: drv}
	var mu sync.Mutex
	var events []event
	users := map[string][]string{}
	m := New(slow, WithLogger(t.Logf))
	err = m.Open(st, func(name string) []string {
		mu.Lock()
		defer mu.Unlock()
		return users[name]
	}, func(action, name string, _ ...string) {
		mu.Lock()
		events = append(events, event{action, name})
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, slow, func() []event { mu.Lock(); defer mu.Unlock(); return append([]event(nil), events...) }, users
}

// TestOpen: the records of the volumes bucket load as they were written
// (the engine's JSON), and one that does not decode is skipped.
func TestOpen(t *testing.T) {
	st := &memStore{m: map[string][]byte{
		"data": []byte(`{"Name":"data","Driver":"local","CreatedAt":"2024-05-01T10:00:00Z","Labels":{"a":"b"},"Anonymous":true}`),
		"bad":  []byte(`{`),
		"odd":  []byte(`{"Name":"other"}`),
	}}
	m, _, _, _ := open(t, st)
	r, err := m.Get("data")
	if err != nil || r.Driver != "local" || !r.Anonymous || r.Labels["a"] != "b" || r.Created.Year() != 2024 {
		t.Errorf("Get(data) = %+v, %v", r, err)
	}
	if n := len(m.List()); n != 1 {
		t.Errorf("%d volumes, want 1: the unreadable records are skipped", n)
	}
}

// TestEnsureOnce: concurrent creates of one new name make it once, and
// only one of them says it made it.
func TestEnsureOnce(t *testing.T) {
	st := &memStore{m: map[string][]byte{}}
	m, drv, events, _ := open(t, st)
	ctx := context.Background()
	var wg sync.WaitGroup
	var made atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := m.Ensure(ctx, Options{Name: "shared"}, false)
			if err != nil {
				t.Error(err)
			}
			if ok {
				made.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := drv.creates.Load(); n != 1 || made.Load() != 1 {
		t.Errorf("%d creates by the driver, %d made; want 1 and 1", n, made.Load())
	}
	if _, ok := st.m["shared"]; !ok {
		t.Error("the volume has no record")
	}
	if ev := events(); len(ev) != 1 || ev[0] != (event{"create", "shared"}) {
		t.Errorf("events %v, want one create", ev)
	}
	if _, err := m.Create(ctx, Options{Name: "shared", Driver: "plug"}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("create with another driver: %v, want already exists", err)
	}
	rec, made2, err := m.Ensure(ctx, Options{}, false)
	if err != nil || !made2 || !rec.Anonymous || len(rec.Name) != 64 {
		t.Errorf("a volume without a name: %+v made=%v %v; want a new anonymous one", rec, made2, err)
	}
}

// TestRemoveInUse: a volume with users is not removed, by rm or prune;
// prune takes the anonymous volumes nobody uses, prune all every one.
func TestRemoveInUse(t *testing.T) {
	st := &memStore{m: map[string][]byte{}}
	m, _, events, users := open(t, st)
	ctx := context.Background()
	for _, o := range []struct {
		name string
		anon bool
	}{{"named", false}, {"anon", true}, {"used", true}} {
		if _, _, err := m.Ensure(ctx, Options{Name: o.name}, o.anon); err != nil {
			t.Fatal(err)
		}
	}
	users["used"] = []string{"web"}
	if err := m.Remove(ctx, "used"); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("rm of a volume in use: %v, want busy", err)
	}
	if err := m.Remove(ctx, "nosuch"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("rm of no volume: %v, want not found", err)
	}
	if got, err := m.Prune(ctx, false); err != nil || len(got) != 1 || got[0] != "anon" {
		t.Errorf("prune = %v, %v; want [anon]", got, err)
	}
	if got, err := m.Prune(ctx, true); err != nil || len(got) != 1 || got[0] != "named" {
		t.Errorf("prune all = %v, %v; want [named]", got, err)
	}
	if _, ok := st.m["anon"]; ok {
		t.Error("a pruned volume kept its record")
	}
	m.RemoveAnonymous(ctx, []MountPoint{{Type: mount.TypeVolume, Name: "used", Anonymous: true}})
	if _, err := m.Get("used"); err != nil {
		t.Errorf("an anonymous volume in use was removed: %v", err)
	}
	delete(users, "used")
	m.RemoveMade(ctx, []string{"used"})
	if _, err := m.Get("used"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("RemoveMade left the volume: %v", err)
	}
	var destroyed int
	for _, ev := range events() {
		if ev.action == "destroy" {
			destroyed++
		}
	}
	if destroyed != 3 {
		t.Errorf("%d destroy events, want 3", destroyed)
	}
}

// TestUse: a volume removed between Ensure and Use is a busy error, and
// while Use holds the volumes a removal waits.
func TestUse(t *testing.T) {
	st := &memStore{m: map[string][]byte{}}
	m, _, _, _ := open(t, st)
	ctx := context.Background()
	if _, _, err := m.Ensure(ctx, Options{Name: "kept"}, false); err != nil {
		t.Fatal(err)
	}
	mounts := []MountPoint{{Type: mount.TypeVolume, Name: "kept"}, {Type: mount.TypeBind, Source: "/srv"}}
	if _, err := m.Use([]MountPoint{{Type: mount.TypeVolume, Name: "gone"}}); !errors.Is(err, errdefs.ErrBusy) {
		t.Errorf("Use of a removed volume: %v, want busy", err)
	}
	done, err := m.Use(mounts)
	if err != nil {
		t.Fatal(err)
	}
	removed := make(chan error, 1)
	go func() { removed <- m.Remove(ctx, "kept") }()
	select {
	case err := <-removed:
		t.Fatalf("the removal did not wait for the container being made: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	done()
	if err := <-removed; err != nil {
		t.Errorf("removal once released: %v", err)
	}
}

// TestMount: a new volume is filled from the image once, the mount points
// become spec mounts in order, and Unmount gives the holds back.
func TestMount(t *testing.T) {
	st := &memStore{m: map[string][]byte{}}
	m, _, events, _ := open(t, st)
	ctx := context.Background()
	rootfs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(rootfs, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "data", "hello"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Ensure(ctx, Options{Name: "vol"}, false); err != nil {
		t.Fatal(err)
	}
	mounts := []MountPoint{
		{Type: mount.TypeVolume, Name: "vol", Destination: "/data", RW: true},
		{Type: mount.TypeBind, Source: "/srv", Destination: "/srv"},
		{Type: mount.TypeTmpfs, Destination: "/tmp", RW: true, TmpfsOptions: "size=1m"},
	}
	specs, err := m.Mount(ctx, "c1", mounts, rootfs)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 3 || specs[0].Destination != "/data" || specs[1].Source != "/srv" || specs[2].Type != "tmpfs" {
		t.Fatalf("spec mounts %+v", specs)
	}
	if want := []string{"rbind", "ro", "rprivate"}; len(specs[1].Options) != 3 || specs[1].Options[1] != want[1] {
		t.Errorf("a read-only bind's options %v, want %v", specs[1].Options, want)
	}
	data, err := os.ReadFile(filepath.Join(specs[0].Source, "hello"))
	if err != nil || string(data) != "hi\n" {
		t.Errorf("the volume was not filled from the image: %q, %v", data, err)
	}
	// A volume with files is not filled again.
	if err := os.Remove(filepath.Join(specs[0].Source, "hello")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(specs[0].Source, "mine"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Mount(ctx, "c2", mounts[:1], rootfs); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(specs[0].Source, "hello")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a volume that has files was filled again: %v", err)
	}
	m.Unmount(ctx, "c1", mounts)
	m.Unmount(ctx, "c2", mounts[:1])
	var got []string
	for _, ev := range events() {
		got = append(got, ev.action)
	}
	if want := "create mount mount unmount unmount"; strings.Join(got, " ") != want {
		t.Errorf("events %q, want %q", strings.Join(got, " "), want)
	}
}

// TestNoVolumes: a manager without a local driver refuses volumes.
func TestNoVolumes(t *testing.T) {
	m := New(nil)
	if err := m.Open(&memStore{m: map[string][]byte{}}, nil, func(string, string, ...string) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(context.Background(), Options{Name: "v1"}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("create without volumes: %v, want unavailable", err)
	}
}
