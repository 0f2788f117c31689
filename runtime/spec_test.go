package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSpecInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts SpecOptions
		want string // part of the message
	}{
		{"no id", SpecOptions{Args: []string{"true"}}, "id is empty"},
		{"id with slash", SpecOptions{ID: "a/b", Args: []string{"true"}}, "plain name"},
		{"dot dot id", SpecOptions{ID: "..", Args: []string{"true"}}, "plain name"},
		{"no args", SpecOptions{ID: "c1"}, "no command"},
		{"empty program", SpecOptions{ID: "c1", Args: []string{""}}, "no command"},
		{"relative cwd", SpecOptions{ID: "c1", Args: []string{"true"}, Cwd: "srv"}, `"srv" is not an absolute path`},
		{"user name", SpecOptions{ID: "c1", Args: []string{"true"}, User: "nobody"}, "uid \"nobody\""},
		{"group name", SpecOptions{ID: "c1", Args: []string{"true"}, User: "1:wheel"}, "gid \"wheel\""},
		{"negative uid", SpecOptions{ID: "c1", Args: []string{"true"}, User: "-1"}, "not a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Spec(tc.opts)
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("Spec = %v, %v; want ErrInvalid", s, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("message %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestSpecProcess(t *testing.T) {
	const id = "0123456789abcdef"
	for _, tc := range []struct {
		name string
		opts SpecOptions
		want specs.Process
		host string
	}{
		{
			name: "defaults",
			opts: SpecOptions{ID: id, Args: []string{"sh", "-c", "true"}},
			want: specs.Process{
				Args: []string{"sh", "-c", "true"},
				Env:  []string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab"},
				Cwd:  "/",
			},
			host: "0123456789ab",
		},
		{
			name: "short id is the hostname",
			opts: SpecOptions{ID: "web", Args: []string{"httpd"}},
			want: specs.Process{
				Args: []string{"httpd"},
				Env:  []string{"PATH=" + DefaultPathEnv, "HOSTNAME=web"},
				Cwd:  "/",
			},
			host: "web",
		},
		{
			name: "image env replaces defaults in place and appends",
			opts: SpecOptions{ID: id, Hostname: "box", Args: []string{"x"},
				Env: []string{"A=1", "PATH=/bin", "A=2", "B="}},
			want: specs.Process{
				Args: []string{"x"},
				Env:  []string{"PATH=/bin", "HOSTNAME=box", "A=2", "B="},
				Cwd:  "/",
			},
			host: "box",
		},
		{
			name: "terminal adds TERM",
			opts: SpecOptions{ID: id, Args: []string{"sh"}, Terminal: true},
			want: specs.Process{
				Terminal: true,
				Args:     []string{"sh"},
				Env:      []string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab", "TERM=xterm"},
				Cwd:      "/",
			},
			host: "0123456789ab",
		},
		{
			name: "user cwd groups",
			opts: SpecOptions{ID: id, Args: []string{"id"}, User: "1000:100", Cwd: "/home/u/",
				AdditionalGids: []uint32{10, 20}},
			want: specs.Process{
				User: specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{10, 20}},
				Args: []string{"id"},
				Env:  []string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab"},
				Cwd:  "/home/u",
			},
			host: "0123456789ab",
		},
		{
			name: "uid only keeps gid 0",
			opts: SpecOptions{ID: id, Args: []string{"id"}, User: "33"},
			want: specs.Process{
				User: specs.User{UID: 33},
				Args: []string{"id"},
				Env:  []string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab"},
				Cwd:  "/",
			},
			host: "0123456789ab",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Spec(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			s.Process.Capabilities = nil // TestSpecCapabilities
			if !reflect.DeepEqual(*s.Process, tc.want) {
				t.Errorf("process =\n%+v\nwant\n%+v", *s.Process, tc.want)
			}
			if s.Hostname != tc.host {
				t.Errorf("hostname = %q, want %q", s.Hostname, tc.host)
			}
		})
	}
}

func TestSpecDefaults(t *testing.T) {
	s, err := Spec(SpecOptions{ID: "c1", Args: []string{"true"}, ReadonlyRootfs: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != SpecVersion {
		t.Errorf("version = %q", s.Version)
	}
	if *s.Root != (specs.Root{Path: "rootfs", Readonly: true}) {
		t.Errorf("root = %+v", *s.Root)
	}
	if s.Linux.CgroupsPath != "/enginefs/c1" {
		t.Errorf("cgroupsPath = %q", s.Linux.CgroupsPath)
	}

	var ns []string
	for _, n := range s.Linux.Namespaces {
		if n.Path != "" {
			t.Errorf("namespace %s joins %s; want a new one", n.Type, n.Path)
		}
		ns = append(ns, string(n.Type))
	}
	slices.Sort(ns)
	if want := []string{"ipc", "mount", "network", "pid", "uts"}; !slices.Equal(ns, want) {
		t.Errorf("namespaces = %v, want %v", ns, want)
	}

	mounts := map[string]specs.Mount{}
	for _, m := range s.Mounts {
		mounts[m.Destination] = m
	}
	for _, tc := range []struct {
		dest, typ string
		opts      []string
	}{
		{"/proc", "proc", nil},
		{"/dev", "tmpfs", []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{"/dev/pts", "devpts", []string{"newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{"/sys", "sysfs", []string{"ro", "nosuid", "noexec", "nodev"}},
		{"/sys/fs/cgroup", "cgroup", []string{"ro"}},
		{"/dev/mqueue", "mqueue", nil},
		{"/dev/shm", "tmpfs", []string{"size=65536k"}},
	} {
		t.Run("mount "+tc.dest, func(t *testing.T) {
			m, ok := mounts[tc.dest]
			if !ok {
				t.Fatalf("no mount at %s", tc.dest)
			}
			if m.Type != tc.typ {
				t.Errorf("type = %q, want %q", m.Type, tc.typ)
			}
			for _, o := range tc.opts {
				if !slices.Contains(m.Options, o) {
					t.Errorf("options %v lack %q", m.Options, o)
				}
			}
		})
	}
	if len(mounts) != 7 {
		t.Errorf("%d mounts, want 7", len(mounts))
	}
	// /dev comes before the mounts below it.
	if s.Mounts[1].Destination != "/dev" {
		t.Errorf("second mount is %s, want /dev", s.Mounts[1].Destination)
	}

	nodes := map[string]specs.LinuxDevice{}
	for _, d := range s.Linux.Devices {
		nodes[d.Path] = d
	}
	rules := s.Linux.Resources.Devices
	if len(rules) == 0 || rules[0].Allow || rules[0].Type != "" || rules[0].Access != "rwm" {
		t.Fatalf("first device rule %+v is not deny-all", rules)
	}
	allowed := func(major, minor int64) bool {
		ok := false
		for _, r := range rules {
			if r.Type != "" && r.Type != "c" || !strings.Contains(r.Access, "rw") {
				continue
			}
			if (r.Major == nil || *r.Major == major) && (r.Minor == nil || *r.Minor == minor) {
				ok = r.Allow
			}
		}
		return ok
	}
	for _, tc := range []struct {
		path         string
		major, minor int64
		node         bool
	}{
		{"/dev/null", 1, 3, true},
		{"/dev/zero", 1, 5, true},
		{"/dev/full", 1, 7, true},
		{"/dev/random", 1, 8, true},
		{"/dev/urandom", 1, 9, true},
		{"/dev/tty", 5, 0, true},
		{"/dev/console", 5, 1, false},
		{"/dev/ptmx", 5, 2, false},
		{"/dev/pts/0", 136, 0, false},
	} {
		t.Run("device "+tc.path, func(t *testing.T) {
			if !allowed(tc.major, tc.minor) {
				t.Errorf("device cgroup does not allow %d:%d", tc.major, tc.minor)
			}
			d, ok := nodes[tc.path]
			if ok != tc.node {
				t.Fatalf("node present = %v, want %v", ok, tc.node)
			}
			if ok && (d.Type != "c" || d.Major != tc.major || d.Minor != tc.minor ||
				d.FileMode == nil || *d.FileMode != os.FileMode(0o666)) {
				t.Errorf("node = %+v", d)
			}
		})
	}
	if allowed(8, 0) || allowed(10, 229) {
		t.Error("device cgroup allows a disk or /dev/fuse")
	}
}

func TestBundleRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "b")
	s, err := Spec(SpecOptions{ID: "c1", Args: []string{"echo", "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteBundle(dir, s); err != nil {
		t.Fatal(err)
	}
	s.Process.Args = []string{"echo", "again"}
	if err := WriteBundle(dir, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, s)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != ConfigName {
		t.Errorf("bundle holds %v, want only %s", entries, ConfigName)
	}
	if fi, err := os.Stat(filepath.Join(dir, ConfigName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestReadBundleErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, ConfigName), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		name  string
		dir   string
		class error
	}{
		{"missing bundle", filepath.Join(dir, "nosuch"), errdefs.ErrNotFound},
		{"not json", write("garbage", "{"), errdefs.ErrInvalid},
		{"no process", write("noproc", `{"root":{"path":"rootfs"}}`), errdefs.ErrInvalid},
		{"no root", write("noroot", `{"process":{"args":["x"],"cwd":"/"}}`), errdefs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadBundle(tc.dir)
			if errdefs.Class(err) != tc.class {
				t.Errorf("ReadBundle = %v, want class %v", err, tc.class)
			}
		})
	}
}

// TestSpecSeccomp: docker's profile by default, for the container's
// capabilities; none when unconfined or privileged; a user's profile as
// given; a bad one refused.
func TestSpecSeccomp(t *testing.T) {
	spec := func(o SpecOptions) (*specs.Spec, error) {
		o.ID, o.Args = "x", []string{"true"}
		return Spec(o)
	}
	hasRule := func(s *specs.Spec, name string) bool {
		for _, r := range s.Linux.Seccomp.Syscalls {
			if slices.Contains(r.Names, name) && r.Action == specs.ActAllow && len(r.Args) == 0 {
				return true
			}
		}
		return false
	}
	s, err := spec(SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Fatalf("default: seccomp = %+v, want docker's profile (default errno)", s.Linux.Seccomp)
	}
	if hasRule(s, "mount") || !hasRule(s, "read") {
		t.Errorf("default: mount allowed=%v, read allowed=%v; want false, true", hasRule(s, "mount"), hasRule(s, "read"))
	}
	s, err = spec(SpecOptions{CapAdd: []string{"SYS_ADMIN"}})
	if err != nil {
		t.Fatal(err)
	}
	if !hasRule(s, "mount") {
		t.Errorf("cap-add SYS_ADMIN: mount not allowed, docker's profile allows it")
	}
	for name, o := range map[string]SpecOptions{"unconfined": {Seccomp: "unconfined"}, "privileged": {Privileged: true}} {
		s, err := spec(o)
		if err != nil {
			t.Fatal(err)
		}
		if s.Linux.Seccomp != nil {
			t.Errorf("%s: a seccomp filter", name)
		}
	}
	s, err = spec(SpecOptions{Seccomp: `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow || len(s.Linux.Seccomp.Syscalls) != 1 {
		t.Errorf("custom profile: %+v", s.Linux.Seccomp)
	}
	for _, bad := range []string{`{`, `{"defaultAction":"SCMP_ACT_SOMETIMES"}`, `{"defaultAction":"SCMP_ACT_NOTIFY"}`} {
		if _, err := spec(SpecOptions{Seccomp: bad}); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("profile %s: err = %v, want invalid", bad, err)
		}
	}
}

// TestSpecSystemPaths: masked and read-only paths replace docker's when
// given, empty lists are none, relative ones are refused.
func TestSpecSystemPaths(t *testing.T) {
	s, err := Spec(SpecOptions{ID: "x", Args: []string{"true"}, MaskedPaths: []string{"/proc/version"}, ReadonlyPaths: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Linux.MaskedPaths, []string{"/proc/version"}) || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("masked %q, read-only %q", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	s, err = Spec(SpecOptions{ID: "x", Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Linux.MaskedPaths, DefaultMaskedPaths()) || !slices.Equal(s.Linux.ReadonlyPaths, DefaultReadonlyPaths()) {
		t.Errorf("defaults: masked %q, read-only %q", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if _, err := Spec(SpecOptions{ID: "x", Args: []string{"true"}, MaskedPaths: []string{"proc/kcore"}}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("relative masked path: err = %v", err)
	}
}
