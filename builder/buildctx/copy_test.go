package buildctx

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
	"golang.org/x/sys/unix"
)

// copyEnv is a container root with hostile symlinks, a source root, and a
// sentinel tree beside them that no copy may touch.
type copyEnv struct {
	parent, root, src string
	before            string
}

func newCopyEnv(t *testing.T) *copyEnv {
	t.Helper()
	testenv.NeedRoot(t)
	parent := t.TempDir()
	e := &copyEnv{parent: parent, root: filepath.Join(parent, "rootfs"), src: filepath.Join(parent, "src")}
	writeFiles(t, parent, map[string]string{
		"sentinel/file":  "keep",
		"sentinel/dir/":  "",
		"sentinel/pwned": "keep",
	})
	writeFiles(t, e.root, map[string]string{
		"etc/passwd":  "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n  \nweird:x:notanumber:0::/:/bin/sh\n",
		"etc/group":   "root:x:0:\napp:x:1000:\nstaff:x:50:app\n",
		"existing/":   "",
		"file":        "i am a file",
		"tohost":      "->/",
		"up":          "->../../..",
		"upsentinel":  "->../sentinel",
		"app":         "->/real",
		"real/":       "",
		"sentinelabs": "->" + filepath.Join(parent, "sentinel"),
	})
	writeFiles(t, e.src, map[string]string{
		"a.txt":       "a",
		"dir/x":       "x",
		"dir/sub/y":   "y",
		"dir/link":    "->../a.txt",
		"dir/abslink": "->/etc/shadow",
		"tree/":       "",
		"esc":         "->/",
		"up":          "->../../..",
	})
	e.before = snapshot(t, filepath.Join(parent, "sentinel"))
	t.Cleanup(func() {
		if after := snapshot(t, filepath.Join(parent, "sentinel")); after != e.before {
			t.Errorf("the sentinel outside the root changed:\n%s\nwant\n%s", after, e.before)
		}
		notExist(t, "/pwned")
		notExist(t, "/etc/pwned")
	})
	return e
}

func (e *copyEnv) copy(t *testing.T, srcs []Source, dest string, opt CopyOptions) error {
	t.Helper()
	return Copy(context.Background(), e.root, e.src, srcs, dest, opt)
}

func (e *copyEnv) mustCopy(t *testing.T, srcs []Source, dest string, opt CopyOptions) {
	t.Helper()
	if err := e.copy(t, srcs, dest, opt); err != nil {
		t.Fatal(err)
	}
}

func file(rel string) []Source { return []Source{{Rel: rel}} }
func dir(rel string) []Source  { return []Source{{Rel: rel, IsDir: true}} }

func TestCopyDestinationRules(t *testing.T) {
	tests := []struct {
		name string
		srcs []Source
		dest string
		want string // path under the root that must hold "a"
	}{
		{"file to new path", file("a.txt"), "/b.txt", "b.txt"},
		{"file to slash", file("a.txt"), "/d/", "d/a.txt"},
		{"file to existing dir", file("a.txt"), "/existing", "existing/a.txt"},
		{"file over file", file("a.txt"), "/file", "file"},
		{"file through absolute symlink inside", file("a.txt"), "/app/", "real/a.txt"},
		{"file through symlink to /", file("a.txt"), "/tohost/etc/pwned", "etc/pwned"},
		{"file through symlink up", file("a.txt"), "/up/pwned", "pwned"},
		{"file through relative symlink out", file("a.txt"), "/upsentinel/pwned", "sentinel/pwned"},
		{"file through host-absolute symlink", file("a.txt"), "/sentinelabs/pwned", ""},
		{"source through symlink to /", file("esc/a.txt"), "/s", "s"},
		{"source through symlink up", file("up/a.txt"), "/u", "u"},
		{"source symlink keeps its name", file("dir/link"), "/l/", "l/link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCopyEnv(t)
			if tt.want == "" {
				// The link names the sentinel by its host path: inside
				// the root that path does not exist, so it is made there.
				tt.want = strings.TrimPrefix(filepath.Join(e.parent, "sentinel", "pwned"), "/")
			}
			e.mustCopy(t, tt.srcs, tt.dest, CopyOptions{})
			if got := readFile(t, filepath.Join(e.root, tt.want)); got != "a" {
				t.Errorf("%s = %q, want the copied file", tt.want, got)
			}
		})
	}
}

func TestCopyDirectoryContents(t *testing.T) {
	for _, dest := range []string{"/dest", "/dest/", "/new/deep/dest"} {
		t.Run(dest, func(t *testing.T) {
			e := newCopyEnv(t)
			e.mustCopy(t, dir("dir"), dest, CopyOptions{UID: 1000, GID: 50})
			d := filepath.Join(e.root, dest)
			for f, want := range map[string]string{"x": "x", "sub/y": "y"} {
				if got := readFile(t, filepath.Join(d, f)); got != want {
					t.Errorf("%s = %q", f, got)
				}
			}
			notExist(t, filepath.Join(d, "dir"))
			if l, _ := os.Readlink(filepath.Join(d, "link")); l != "../a.txt" {
				t.Errorf("link -> %q: symlinks are copied as they are", l)
			}
			if l, _ := os.Readlink(filepath.Join(d, "abslink")); l != "/etc/shadow" {
				t.Errorf("abslink -> %q", l)
			}
			for _, p := range []string{"", "x", "sub", "sub/y", "link"} {
				if st := lstat(t, filepath.Join(d, p)); st.Uid != 1000 || st.Gid != 50 {
					t.Errorf("%q owned by %d:%d, want 1000:50", p, st.Uid, st.Gid)
				}
			}
			if st := lstat(t, d); st.Mode&0o7777 != 0o755 {
				t.Errorf("new dest mode %o, want 755", st.Mode&0o7777)
			}
			if dest == "/new/deep/dest" {
				if st := lstat(t, filepath.Join(e.root, "new/deep")); st.Uid != 0 || st.Mode&0o7777 != 0o755 {
					t.Errorf("parent of a directory copy: %d %o, want root 755", st.Uid, st.Mode&0o7777)
				}
			}
		})
	}
	t.Run("existing dest keeps its owner", func(t *testing.T) {
		e := newCopyEnv(t)
		os.Chmod(filepath.Join(e.root, "existing"), 0o711)
		e.mustCopy(t, dir("dir"), "/existing", CopyOptions{UID: 1000, GID: 1000})
		if st := lstat(t, filepath.Join(e.root, "existing")); st.Uid != 0 || st.Mode&0o7777 != 0o711 {
			t.Errorf("existing dest: owner %d mode %o, want 0 711", st.Uid, st.Mode&0o7777)
		}
		if st := lstat(t, filepath.Join(e.root, "existing/x")); st.Uid != 1000 {
			t.Errorf("existing/x owner %d", st.Uid)
		}
	})
	t.Run("directory through symlink to /", func(t *testing.T) {
		e := newCopyEnv(t)
		e.mustCopy(t, dir("dir"), "/tohost/etc", CopyOptions{})
		if got := readFile(t, filepath.Join(e.root, "etc/x")); got != "x" {
			t.Errorf("etc/x = %q", got)
		}
		notExist(t, "/etc/x")
	})
	t.Run("whole source root", func(t *testing.T) {
		e := newCopyEnv(t)
		e.mustCopy(t, dir("."), "/all/", CopyOptions{})
		if got := readFile(t, filepath.Join(e.root, "all/dir/sub/y")); got != "y" {
			t.Errorf("all/dir/sub/y = %q", got)
		}
		if l, _ := os.Readlink(filepath.Join(e.root, "all/up")); l != "../../.." {
			t.Errorf("all/up -> %q", l)
		}
	})
}

func TestCopyMetadata(t *testing.T) {
	e := newCopyEnv(t)
	src := filepath.Join(e.src, "meta")
	writeFiles(t, src, map[string]string{"suid": "s", "plain": "p", "d/": ""})
	unix.Chmod(filepath.Join(src, "suid"), 0o4755)
	os.Chmod(filepath.Join(src, "plain"), 0o640)
	os.Chmod(filepath.Join(src, "d"), 0o700)
	os.Lchown(filepath.Join(src, "plain"), 1234, 4321)
	mt := time.Date(2021, 6, 7, 8, 9, 10, 987654321, time.UTC)
	os.Link(filepath.Join(src, "plain"), filepath.Join(src, "d/hard"))
	for _, p := range []string{"suid", "plain", "d"} {
		os.Chtimes(filepath.Join(src, p), mt, mt)
	}
	unix.Setxattr(filepath.Join(src, "plain"), "user.note", []byte("kept"), 0)
	unix.Setxattr(filepath.Join(src, "plain"), "trusted.overlay.opaque", []byte("y"), 0)

	e.mustCopy(t, dir("meta"), "/m", CopyOptions{})
	m := filepath.Join(e.root, "m")
	if st := lstat(t, filepath.Join(m, "suid")); st.Mode&0o7777 != 0o4755 || st.Uid != 0 {
		t.Errorf("suid: mode %o uid %d", st.Mode&0o7777, st.Uid)
	}
	st := lstat(t, filepath.Join(m, "plain"))
	if st.Mode&0o7777 != 0o640 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("plain: mode %o owner %d:%d, want 640 0:0", st.Mode&0o7777, st.Uid, st.Gid)
	}
	if st.Mtim.Sec != mt.Unix() || st.Mtim.Nsec != 0 || st.Atim != st.Mtim {
		t.Errorf("plain: mtime %v atime %v, want %d.0 for both", st.Mtim, st.Atim, mt.Unix())
	}
	if d := lstat(t, filepath.Join(m, "d")); d.Mode&0o7777 != 0o700 || d.Mtim.Sec != mt.Unix() {
		t.Errorf("d: mode %o mtime %d", d.Mode&0o7777, d.Mtim.Sec)
	}
	if h := lstat(t, filepath.Join(m, "d/hard")); h.Ino != st.Ino {
		t.Error("d/hard is no longer a hard link of plain")
	}
	buf := make([]byte, 64)
	if n, err := unix.Getxattr(filepath.Join(m, "plain"), "user.note", buf); err == nil && string(buf[:n]) != "kept" {
		t.Errorf("user.note = %q", buf[:n])
	} else if err != nil && err != unix.EOPNOTSUPP {
		if _, serr := unix.Getxattr(filepath.Join(src, "plain"), "user.note", buf); serr == nil {
			t.Errorf("user.note not copied: %v", err)
		}
	}
	if _, err := unix.Getxattr(filepath.Join(m, "plain"), "trusted.overlay.opaque", buf); err == nil {
		t.Error("trusted.overlay.opaque was copied")
	}

	t.Run("preserve owner", func(t *testing.T) {
		e.mustCopy(t, file("meta/plain"), "/p/q", CopyOptions{PreserveOwner: true, UID: 5, GID: 5})
		if st := lstat(t, filepath.Join(e.root, "p/q")); st.Uid != 1234 || st.Gid != 4321 {
			t.Errorf("owner %d:%d, want the source's 1234:4321", st.Uid, st.Gid)
		}
		if st := lstat(t, filepath.Join(e.root, "p")); st.Uid != 0 {
			t.Errorf("new parent owned by %d, want root", st.Uid)
		}
	})
	t.Run("chown makes parents", func(t *testing.T) {
		e.mustCopy(t, file("a.txt"), "/c1/c2/", CopyOptions{UID: 1000, GID: 1000})
		for _, p := range []string{"c1", "c1/c2", "c1/c2/a.txt"} {
			if st := lstat(t, filepath.Join(e.root, p)); st.Uid != 1000 || st.Gid != 1000 {
				t.Errorf("%s owned by %d:%d", p, st.Uid, st.Gid)
			}
		}
		if st := lstat(t, filepath.Join(e.root, "existing")); st.Uid != 0 {
			t.Error("an existing parent was chowned")
		}
	})
	t.Run("chmod", func(t *testing.T) {
		mode, err := ParseChmod("0750")
		if err != nil {
			t.Fatal(err)
		}
		e.mustCopy(t, dir("meta"), "/ch", CopyOptions{Chmod: &mode})
		for _, p := range []string{"ch", "ch/plain", "ch/suid", "ch/d"} {
			if st := lstat(t, filepath.Join(e.root, p)); st.Mode&0o7777 != 0o750 {
				t.Errorf("%s mode %o, want 750", p, st.Mode&0o7777)
			}
		}
		sticky, _ := ParseChmod("1777")
		e.mustCopy(t, file("a.txt"), "/sticky", CopyOptions{Chmod: &sticky})
		if st := lstat(t, filepath.Join(e.root, "sticky")); st.Mode&0o7777 != 0o1777 {
			t.Errorf("sticky mode %o", st.Mode&0o7777)
		}
	})
}

func TestCopyErrors(t *testing.T) {
	tests := []struct {
		name  string
		srcs  []Source
		dest  string
		opt   CopyOptions
		class error
		msg   string
	}{
		{"dir onto a file", dir("dir"), "/file", CopyOptions{}, errdefs.ErrInvalid, "failed to copy files: mkdir /file: not a directory"},
		{"file below a file", file("a.txt"), "/file/", CopyOptions{}, errdefs.ErrInvalid, "not a directory"},
		{"file deep below a file", file("a.txt"), "/file/x/y", CopyOptions{}, errdefs.ErrInvalid, "not a directory"},
		{"several without slash", []Source{{Rel: "a.txt"}, {Rel: "dir", IsDir: true}}, "/d", CopyOptions{}, errdefs.ErrInvalid,
			"When using COPY with more than one source file, the destination must be a directory and end with a /"},
		{"multiple flag", file("a.txt"), "/d", CopyOptions{Multiple: true, Cmd: "ADD"}, errdefs.ErrInvalid,
			"When using ADD with more than one source file, the destination must be a directory and end with a /"},
		{"source outside", file("../sentinel/file"), "/x", CopyOptions{}, errdefs.ErrInvalid, "forbidden path outside the build context: ../sentinel/file ()"},
		{"source gone", file("gone"), "/x", CopyOptions{}, errdefs.ErrNotFound, "failed to copy files: source path not found: stat gone"},
		{"no sources", nil, "/x", CopyOptions{}, errdefs.ErrInvalid, "COPY failed: no source files were specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCopyEnv(t)
			err := e.copy(t, tt.srcs, tt.dest, tt.opt)
			wantErr(t, err, tt.class, tt.msg)
			if got := readFile(t, filepath.Join(e.root, "file")); got != "i am a file" {
				t.Errorf("/file changed: %q", got)
			}
		})
	}
}

func TestResolveChown(t *testing.T) {
	e := newCopyEnv(t)
	tests := []struct {
		spec     string
		uid, gid int
		msg      string
	}{
		{spec: "app", uid: 1000, gid: 1000},
		{spec: "app:staff", uid: 1000, gid: 50},
		{spec: "1234", uid: 1234, gid: 1234},
		{spec: "0:staff", uid: 0, gid: 50},
		{spec: "weird:root", uid: 0, gid: 0},
		{spec: "nouser", msg: "unable to convert uid/gid chown string to host mapping: can't find uid for user nouser: no such user: nouser"},
		{spec: "app:nogroup", msg: "unable to convert uid/gid chown string to host mapping: can't find gid for group nogroup: no such group: nogroup"},
		{spec: "a:b:c", msg: "unable to convert uid/gid chown string to host mapping: invalid chown string format: a:b:c"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			uid, gid, err := ResolveChown(e.root, tt.spec)
			if tt.msg != "" {
				wantErr(t, err, errdefs.ErrInvalid, "")
				if err != nil && err.Error() != tt.msg {
					t.Errorf("message %q, want %q", err, tt.msg)
				}
				return
			}
			if err != nil || uid != tt.uid || gid != tt.gid {
				t.Errorf("got %d:%d %v, want %d:%d", uid, gid, err, tt.uid, tt.gid)
			}
		})
	}
	t.Run("passwd through a symlink stays in the root", func(t *testing.T) {
		root := t.TempDir()
		// On the host this link would name /etc/shadow, whose third
		// field is no uid; in the root it names the fake one.
		writeFiles(t, root, map[string]string{
			"etc/passwd": "->../../../../../../../../../../etc/shadow",
			"etc/shadow": "root:x:4242:4242::/:/bin/sh\n",
			"etc/group":  "->/etc/missing",
		})
		uid, _, err := ResolveChown(root, "root:0")
		if err != nil || uid != 4242 {
			t.Errorf("uid %d, %v: want 4242 from the root's own file", uid, err)
		}
		_, _, err = ResolveChown(root, "0:root")
		wantErr(t, err, errdefs.ErrInvalid, "can't find gid for group root: open /etc/group: no such file or directory")
	})
}

func TestParseChmod(t *testing.T) {
	for s, want := range map[string]os.FileMode{"755": 0o755, "0644": 0o644, "4755": 0o755 | os.ModeSetuid, "2700": 0o700 | os.ModeSetgid} {
		if got, err := ParseChmod(s); err != nil || got != want {
			t.Errorf("ParseChmod(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "u+x", "888", "17777", "-1", "0x1ff"} {
		_, err := ParseChmod(s)
		wantErr(t, err, errdefs.ErrInvalid, "invalid chmod parameter")
	}
}

func runCmd(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

// gzTar gzips a tar.
func gzTar(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

func TestCopyExtract(t *testing.T) {
	t.Run("gzip tar", func(t *testing.T) {
		e := newCopyEnv(t)
		mt := time.Date(2019, 9, 9, 9, 9, 9, 0, time.UTC)
		os.WriteFile(filepath.Join(e.src, "app.tar.gz"), gzTar(t, mkTar(t,
			entry{name: "./", typ: tar.TypeDir},
			entry{name: "bin/", typ: tar.TypeDir, mode: 0o750, uid: 7, gid: 8, mtime: mt},
			entry{name: "bin/tool", body: "tool", mode: 0o755, uid: 1000, gid: 1000, mtime: mt},
			entry{name: "bin/alias", typ: tar.TypeLink, link: "bin/tool"},
			entry{name: "lib/libx.so", body: "lib"},
			entry{name: "rootlink", typ: tar.TypeSymlink, link: "/"},
			entry{name: "rootlink/etc/pwned", body: "contained"},
			entry{name: "/abs/file", body: "abs"},
		)), 0o644)
		e.mustCopy(t, file("app.tar.gz"), "/opt/app", CopyOptions{Extract: true, UID: 99, GID: 99})
		d := filepath.Join(e.root, "opt/app")
		if st := lstat(t, filepath.Join(d, "bin/tool")); st.Uid != 1000 || st.Gid != 1000 || st.Mode&0o7777 != 0o755 || st.Mtim.Sec != mt.Unix() {
			t.Errorf("bin/tool: %d:%d %o %d: the archive's owners and modes are kept, --chown is not applied", st.Uid, st.Gid, st.Mode&0o7777, st.Mtim.Sec)
		}
		if st := lstat(t, filepath.Join(d, "bin")); st.Uid != 7 || st.Mode&0o7777 != 0o750 || st.Mtim.Sec != mt.Unix() {
			t.Errorf("bin: %d %o %d", st.Uid, st.Mode&0o7777, st.Mtim.Sec)
		}
		if lstat(t, filepath.Join(d, "bin/alias")).Ino != lstat(t, filepath.Join(d, "bin/tool")).Ino {
			t.Error("bin/alias is not a hard link")
		}
		if st := lstat(t, filepath.Join(d, "lib")); st.Mode&0o7777 != 0o755 || st.Uid != 0 {
			t.Errorf("implied lib: %o %d", st.Mode&0o7777, st.Uid)
		}
		// A symlink to "/" leads to dest, as in docker's chroot at dest.
		if got := readFile(t, filepath.Join(d, "etc/pwned")); got != "contained" {
			t.Errorf("rootlink/etc/pwned went elsewhere: %q", got)
		}
		notExist(t, filepath.Join(e.root, "etc/pwned"))
		if got := readFile(t, filepath.Join(d, "abs/file")); got != "abs" {
			t.Errorf("/abs/file = %q", got)
		}
		notExist(t, filepath.Join(e.root, "opt/app/app.tar.gz"))
	})
	t.Run("into a symlinked dest", func(t *testing.T) {
		e := newCopyEnv(t)
		os.WriteFile(filepath.Join(e.src, "a.tar"), mkTar(t, entry{name: "pwned", body: "x"}), 0o644)
		e.mustCopy(t, file("a.tar"), "/up/", CopyOptions{Extract: true})
		if got := readFile(t, filepath.Join(e.root, "pwned")); got != "x" {
			t.Errorf("pwned = %q", got)
		}
	})
	t.Run("dotdot refused", func(t *testing.T) {
		e := newCopyEnv(t)
		os.WriteFile(filepath.Join(e.src, "evil.tar"), mkTar(t, entry{name: "../../sentinel/pwned", body: "x"}), 0o644)
		err := e.copy(t, file("evil.tar"), "/x/", CopyOptions{Extract: true})
		wantErr(t, err, errdefs.ErrInvalid, `archive entry "../../sentinel/pwned"`)
	})
	t.Run("not an archive is copied", func(t *testing.T) {
		e := newCopyEnv(t)
		os.WriteFile(filepath.Join(e.src, "fake.tar.gz"), []byte("\x1f\x8bnot really gzip"), 0o644)
		e.mustCopy(t, file("fake.tar.gz"), "/x/", CopyOptions{Extract: true})
		if got := readFile(t, filepath.Join(e.root, "x/fake.tar.gz")); got != "\x1f\x8bnot really gzip" {
			t.Errorf("x/fake.tar.gz = %q", got)
		}
		e.mustCopy(t, file("a.txt"), "/y/", CopyOptions{Extract: true})
		if got := readFile(t, filepath.Join(e.root, "y/a.txt")); got != "a" {
			t.Errorf("y/a.txt = %q", got)
		}
	})
	t.Run("COPY does not extract", func(t *testing.T) {
		e := newCopyEnv(t)
		os.WriteFile(filepath.Join(e.src, "a.tar"), mkTar(t, entry{name: "inner", body: "x"}), 0o644)
		e.mustCopy(t, file("a.tar"), "/x/", CopyOptions{})
		notExist(t, filepath.Join(e.root, "x/inner"))
		lstat(t, filepath.Join(e.root, "x/a.tar"))
	})
	t.Run("xz", func(t *testing.T) {
		e := newCopyEnv(t)
		xz := testenv.NeedBinary(t, "xz", "xz-utils")
		p := filepath.Join(e.src, "a.tar")
		os.WriteFile(p, mkTar(t, entry{name: "inner", body: "xz"}), 0o644)
		if out, err := runCmd(xz, p); err != nil {
			t.Fatalf("xz: %v %s", err, out)
		}
		e.mustCopy(t, file("a.tar.xz"), "/x/", CopyOptions{Extract: true})
		if got := readFile(t, filepath.Join(e.root, "x/inner")); got != "xz" {
			t.Errorf("x/inner = %q", got)
		}
	})
}

func TestCopyCancelled(t *testing.T) {
	e := newCopyEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Copy(ctx, e.root, e.src, dir("dir"), "/c", CopyOptions{})
	wantErr(t, err, errdefs.ErrUnavailable, "context canceled")
}

func TestCopyReplaces(t *testing.T) {
	e := newCopyEnv(t)
	writeFiles(t, e.root, map[string]string{
		"existing/a.txt/deep/file": "old dir",
		"r/x/":                     "",
		"r/x/inner":                "old",
		"r/sub":                    "old file",
		"r/keep":                   "untouched",
	})
	e.mustCopy(t, file("a.txt"), "/existing/", CopyOptions{})
	if got := readFile(t, filepath.Join(e.root, "existing/a.txt")); got != "a" {
		t.Errorf("existing/a.txt = %q: a file replaces a directory, as docker's untar does", got)
	}
	e.mustCopy(t, dir("dir"), "/r", CopyOptions{})
	if got := readFile(t, filepath.Join(e.root, "r/x")); got != "x" {
		t.Errorf("r/x = %q", got)
	}
	if got := readFile(t, filepath.Join(e.root, "r/sub/y")); got != "y" {
		t.Errorf("r/sub/y = %q", got)
	}
	if got := readFile(t, filepath.Join(e.root, "r/keep")); got != "untouched" {
		t.Errorf("r/keep = %q: a directory copy merges", got)
	}
}
