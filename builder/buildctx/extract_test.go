package buildctx

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/pkg/tarsum"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/klauspost/compress/zstd"
)

// hostileSetup makes a parent directory with a sentinel tree beside the
// context directory, for checking that nothing leaks out.
func hostileSetup(t *testing.T) (ctxDir, parent, before string) {
	parent = t.TempDir()
	writeFiles(t, parent, map[string]string{"sentinel/file": "keep", "sentinel/dir/": ""})
	return filepath.Join(parent, "ctx"), parent, snapshot(t, parent)
}

func TestExtractHostile(t *testing.T) {
	testenv.NeedRoot(t)
	big := string(bytes.Repeat([]byte("x"), 2048))
	tests := []struct {
		name    string
		tar     []byte
		lim     Limits
		wantMsg string
	}{
		{"dotdot", mkTar(t, entry{name: "../evil", body: "x"}), Limits{}, `"../evil"`},
		{"dotdot inside", mkTar(t, entry{name: "a/", typ: tar.TypeDir}, entry{name: "a/../../evil", body: "x"}), Limits{}, `"a/../../evil"`},
		{"absolute", mkTar(t, entry{name: "/etc/evil", body: "x"}), Limits{}, `"/etc/evil": absolute name`},
		{"symlink to root then file", mkTar(t,
			entry{name: "link", typ: tar.TypeSymlink, link: "/"},
			entry{name: "link/evil", body: "x"}), Limits{}, `"link/evil"`},
		{"symlink up then file", mkTar(t,
			entry{name: "up", typ: tar.TypeSymlink, link: "../sentinel"},
			entry{name: "up/evil", body: "x"}), Limits{}, `"up/evil"`},
		{"symlink then dir through it", mkTar(t,
			entry{name: "up", typ: tar.TypeSymlink, link: ".."},
			entry{name: "up/sentinel/", typ: tar.TypeDir}), Limits{}, `"up/sentinel/"`},
		{"hard link outside", mkTar(t, entry{name: "h", typ: tar.TypeLink, link: "../sentinel/file"}), Limits{}, `outside the context`},
		{"hard link absolute", mkTar(t, entry{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}), Limits{}, `outside the context`},
		{"hard link absent", mkTar(t, entry{name: "h", typ: tar.TypeLink, link: "nothere"}), Limits{}, `not a file of the context`},
		{"hard link through symlink", mkTar(t,
			entry{name: "up", typ: tar.TypeSymlink, link: "../sentinel"},
			entry{name: "h", typ: tar.TypeLink, link: "up/file"}), Limits{}, `not a file of the context`},
		{"char device", mkTar(t, entry{name: "null", typ: tar.TypeChar}), Limits{}, `devices and fifos`},
		{"fifo", mkTar(t, entry{name: "fifo", typ: tar.TypeFifo}), Limits{}, `devices and fifos`},
		{"too many bytes", mkTar(t, entry{name: "a", body: big}, entry{name: "b", body: big}), Limits{MaxBytes: 3000}, "build context exceeds 3000 bytes"},
		{"too many entries", mkTar(t, entry{name: "a"}, entry{name: "b"}, entry{name: "c"}), Limits{MaxEntries: 2}, "build context exceeds 2 entries"},
		{"xz", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, make([]byte, 64)...), Limits{}, "xz-compressed build contexts are not supported"},
		{"short file", mkTar(t, entry{name: "a", body: "abc", size: 10}), Limits{}, ""},
		{"not a tar", bytes.Repeat([]byte("garbage!"), 200), Limits{}, "build context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, parent, before := hostileSetup(t)
			c, err := Extract(context.Background(), bytes.NewReader(tt.tar), dir, tt.lim)
			if err == nil {
				c.Remove()
			}
			wantErr(t, err, errdefs.ErrInvalid, tt.wantMsg)
			notExist(t, dir) // removed on error
			if after := snapshot(t, parent); after != before {
				t.Errorf("the tree around the context changed:\n%s\nwant\n%s", after, before)
			}
			notExist(t, "/etc/evil")
		})
	}
}

func TestExtractWrites(t *testing.T) {
	testenv.NeedRoot(t)
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	data := mkTar(t,
		entry{name: "Dockerfile", body: "FROM scratch\n"},
		entry{name: "dir/", mode: 0o750, mtime: mt},
		entry{name: "dir/run.sh", body: "#!/bin/sh\n", mode: 0o4755, uid: 1000, gid: 1001, mtime: mt},
		entry{name: "dir/abs", typ: tar.TypeSymlink, link: "/etc/passwd"},
		entry{name: "dir/hard", typ: tar.TypeLink, link: "dir/run.sh"},
		entry{name: "implied/deep/file", body: "x"},
		entry{name: "dup", body: "first"},
		entry{name: "dup", body: "second"},
	)
	dir := filepath.Join(t.TempDir(), "ctx")
	c, err := Extract(context.Background(), bytes.NewReader(data), dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove()
	if c.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", c.Dir(), dir)
	}
	st := lstat(t, filepath.Join(dir, "dir/run.sh"))
	if st.Mode&0o7777 != 0o4755 || st.Uid != 1000 || st.Gid != 1001 || st.Mtim.Sec != mt.Unix() {
		t.Errorf("dir/run.sh: mode %o uid %d gid %d mtime %d", st.Mode&0o7777, st.Uid, st.Gid, st.Mtim.Sec)
	}
	st = lstat(t, filepath.Join(dir, "dir"))
	if st.Mode&0o7777 != 0o750 || st.Mtim.Sec != mt.Unix() {
		t.Errorf("dir: mode %o mtime %d (its time must be set after its children)", st.Mode&0o7777, st.Mtim.Sec)
	}
	if l, err := os.Readlink(filepath.Join(dir, "dir/abs")); err != nil || l != "/etc/passwd" {
		t.Errorf("dir/abs -> %q, %v", l, err)
	}
	if h := lstat(t, filepath.Join(dir, "dir/hard")); h.Ino != lstat(t, filepath.Join(dir, "dir/run.sh")).Ino {
		t.Error("dir/hard is not a hard link of dir/run.sh")
	}
	if st := lstat(t, filepath.Join(dir, "implied/deep")); st.Mode&0o7777 != 0o755 || st.Uid != 0 {
		t.Errorf("implied parent: mode %o uid %d", st.Mode&0o7777, st.Uid)
	}
	if got := readFile(t, filepath.Join(dir, "dup")); got != "second" {
		t.Errorf("dup = %q: a later entry replaces an earlier one", got)
	}
}

// capNetBind is a valid VFS_CAP_REVISION_2 security.capability value
// granting CAP_NET_BIND_SERVICE.
const capNetBind = "\x00\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// dockerSums runs docker's own pkg/tarsum over data and returns its
// per-file sums.
func dockerSums(t *testing.T, data []byte) tarsum.FileInfoSums {
	t.Helper()
	ts, err := tarsum.NewTarSum(bytes.NewReader(data), true, tarsum.Version1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, ts); err != nil {
		t.Fatal(err)
	}
	return ts.GetSums()
}

func TestTarsumMatchesDocker(t *testing.T) {
	testenv.NeedRoot(t)
	data := mkTar(t,
		entry{name: "./", typ: tar.TypeDir},
		entry{name: "a.txt", body: "hello\n"},
		entry{name: "sub/", typ: tar.TypeDir, mode: 0o700, uid: 5, gid: 6},
		entry{name: "sub/b", body: "b", mode: 0o600, xattrs: map[string]string{"user.z": "1", "security.capability": capNetBind}},
		entry{name: "sub/link", typ: tar.TypeSymlink, link: "../a.txt"},
		entry{name: "sub/hard", typ: tar.TypeLink, link: "a.txt"},
		entry{name: "dup", body: "one"},
		entry{name: "dup", body: "two"},
	)
	want := dockerSums(t, data)
	c, err := Extract(context.Background(), bytes.NewReader(data), filepath.Join(t.TempDir(), "ctx"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove()
	for _, name := range []string{".", "a.txt", "sub", "sub/b", "sub/link", "sub/hard", "dup"} {
		w := want.GetFile(name)
		if w == nil {
			t.Fatalf("docker has no sum for %q", name)
		}
		if got := c.sums[name]; got != w.Sum() {
			t.Errorf("tarsum of %q = %s, docker's is %s", name, got, w.Sum())
		}
	}
	if len(c.sums) != 7 {
		t.Errorf("%d sums, want 7: %v", len(c.sums), c.sums)
	}
}

func TestTarsumStable(t *testing.T) {
	testenv.NeedRoot(t)
	sums := func(e ...entry) map[string]string {
		c, err := Extract(context.Background(), bytes.NewReader(mkTar(t, e...)), filepath.Join(t.TempDir(), "ctx"), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Remove()
		return c.sums
	}
	base := sums(entry{name: "f", body: "x"})["f"]
	if again := sums(entry{name: "f", body: "x"})["f"]; again != base {
		t.Errorf("same entry, different sums: %s %s", base, again)
	}
	if other := sums(entry{name: "f", body: "x", mtime: t0.Add(time.Hour)})["f"]; other != base {
		t.Errorf("the mtime changed the tarsum: %s %s", base, other)
	}
	for name, e := range map[string]entry{
		"mode":    {name: "f", body: "x", mode: 0o600},
		"uid":     {name: "f", body: "x", uid: 1},
		"content": {name: "f", body: "y"},
		"xattr":   {name: "f", body: "x", xattrs: map[string]string{"user.a": "b"}},
	} {
		if s := sums(e)["f"]; s == base {
			t.Errorf("a different %s gives the same tarsum", name)
		}
	}
}

func TestExtractCompressed(t *testing.T) {
	testenv.NeedRoot(t)
	plain := mkTar(t, entry{name: "a", body: "compressed context"})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	var zs bytes.Buffer
	zsw, _ := zstd.NewWriter(&zs)
	zsw.Write(plain)
	zsw.Close()
	bz := exec.Command(testenv.NeedBinary(t, "bzip2", "bzip2"), "-c")
	bz.Stdin = bytes.NewReader(plain)
	bzOut, err := bz.Output()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"plain": plain, "gzip": gz.Bytes(), "zstd": zs.Bytes(), "bzip2": bzOut} {
		t.Run(name, func(t *testing.T) {
			c, err := Extract(context.Background(), bytes.NewReader(data), filepath.Join(t.TempDir(), "ctx"), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Remove()
			if got := readFile(t, filepath.Join(c.Dir(), "a")); got != "compressed context" {
				t.Errorf("a = %q", got)
			}
			if c.sums["a"] != dockerSums(t, plain).GetFile("a").Sum() {
				t.Error("tarsum differs from docker's")
			}
		})
	}
}

func TestExtractCancelled(t *testing.T) {
	testenv.NeedRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "ctx")
	_, err := Extract(ctx, bytes.NewReader(mkTar(t, entry{name: "a", body: "x"})), dir, Limits{})
	wantErr(t, err, errdefs.ErrUnavailable, "context canceled")
	notExist(t, dir)
}
