package buildctx

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/docker/docker/pkg/tarsum"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
)

// testContext extracts a context with files, directories and symlinks of
// every kind Sources must handle, and returns it with docker's sums.
func testContext(t *testing.T) (*Context, tarsum.FileInfoSums) {
	t.Helper()
	testenv.NeedRoot(t)
	data := mkTar(t,
		entry{name: "a.txt", body: "a"},
		entry{name: "b.txt", body: "b"},
		entry{name: "c.md", body: "c"},
		entry{name: "dir/", typ: tar.TypeDir},
		entry{name: "dir/x", body: "x"},
		entry{name: "dir/sub/", typ: tar.TypeDir},
		entry{name: "dir/sub/y", body: "y"},
		entry{name: "dir/tolink", typ: tar.TypeSymlink, link: "../a.txt"},
		entry{name: "link", typ: tar.TypeSymlink, link: "a.txt"},
		entry{name: "absdir", typ: tar.TypeSymlink, link: "/dir"},
		entry{name: "escape", typ: tar.TypeSymlink, link: "../../../.."},
		entry{name: "hostpasswd", typ: tar.TypeSymlink, link: "/etc/passwd"},
		entry{name: "dangling", typ: tar.TypeSymlink, link: "nothere"},
		entry{name: "we*rd", body: "w"},
	)
	c, err := Extract(context.Background(), bytes.NewReader(data), filepath.Join(t.TempDir(), "ctx"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove() })
	return c, dockerSums(t, data)
}

// dirHash is the notes' "dir:" hash of the given bare sums.
func dirHash(sums ...string) string {
	sort.Strings(sums)
	h := sha256.Sum256([]byte(strings.Join(sums, ",")))
	return "dir:" + hex.EncodeToString(h[:])
}

func TestContextSources(t *testing.T) {
	c, ds := testContext(t)
	sum := func(name string) string { return ds.GetFile(name).Sum() }
	dirSum := dirHash(sum("dir"), sum("dir/x"), sum("dir/sub"), sum("dir/sub/y"), sum("a.txt") /* dir/tolink followed */)
	tests := []struct {
		name     string
		patterns []string
		want     []Source
	}{
		{"file", []string{"a.txt"}, []Source{{Rel: "a.txt", Hash: "file:" + sum("a.txt")}}},
		{"leading slash", []string{"/a.txt"}, []Source{{Rel: "a.txt", Hash: "file:" + sum("a.txt")}}},
		{"leading dot", []string{"./a.txt"}, []Source{{Rel: "a.txt", Hash: "file:" + sum("a.txt")}}},
		{"symlink hashes its target", []string{"link"}, []Source{{Rel: "link", Hash: "file:" + sum("a.txt")}}},
		{"wildcard", []string{"*.txt"}, []Source{{Rel: "a.txt", Hash: "file:" + sum("a.txt")}, {Rel: "b.txt", Hash: "file:" + sum("b.txt")}}},
		{"wildcard below", []string{"dir/*"}, []Source{
			{Rel: "dir/sub", IsDir: true, Hash: dirHash(sum("dir/sub"), sum("dir/sub/y"))},
			{Rel: "dir/tolink", Hash: "file:" + sum("a.txt")},
			{Rel: "dir/x", Hash: "file:" + sum("dir/x")},
		}},
		{"class wildcard", []string{"[ab].txt"}, []Source{{Rel: "a.txt", Hash: "file:" + sum("a.txt")}, {Rel: "b.txt", Hash: "file:" + sum("b.txt")}}},
		{"dir", []string{"dir"}, []Source{{Rel: "dir", IsDir: true, Hash: dirSum}}},
		{"dir with slash", []string{"dir/"}, []Source{{Rel: "dir/", IsDir: true, Hash: dirSum}}},
		{"absolute symlink stays inside", []string{"absdir"}, []Source{{Rel: "absdir", IsDir: true, Hash: dirSum}}},
		{"escaping symlink is the root", []string{"escape/a.txt"}, []Source{{Rel: "escape/a.txt", Hash: "file:" + sum("a.txt")}}},
		{"several", []string{"a.txt", "nomatch*", "c.md"}, []Source{{Rel: "a.txt", Hash: "file:" + sum("a.txt")}, {Rel: "c.md", Hash: "file:" + sum("c.md")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Sources("COPY", tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("source %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestContextSourcesErrors(t *testing.T) {
	c, _ := testContext(t)
	tests := []struct {
		name     string
		cmd      string
		patterns []string
		class    error
		msg      string
	}{
		{"missing", "COPY", []string{"foo.txt"}, errdefs.ErrNotFound,
			"COPY failed: file not found in build context or excluded by .dockerignore: stat foo.txt: file does not exist"},
		{"missing ADD", "ADD", []string{"a.txt", "foo.txt"}, errdefs.ErrNotFound,
			"ADD failed: file not found in build context or excluded by .dockerignore: stat foo.txt: file does not exist"},
		{"host file through absolute symlink", "COPY", []string{"hostpasswd"}, errdefs.ErrNotFound,
			"COPY failed: file not found in build context or excluded by .dockerignore: stat hostpasswd: file does not exist"},
		{"dangling", "COPY", []string{"dangling"}, errdefs.ErrNotFound, "stat dangling: file does not exist"},
		{"outside", "COPY", []string{"../x"}, errdefs.ErrInvalid, "COPY failed: forbidden path outside the build context: ../x ()"},
		{"outside after a dir", "COPY", []string{"dir/../../x"}, errdefs.ErrInvalid, "COPY failed: forbidden path outside the build context: dir/../../x ()"},
		{"outside with two slashes", "COPY", []string{"//../x"}, errdefs.ErrInvalid, "COPY failed: forbidden path outside the build context: /../x ()"},
		// docker's containsWildcards skips an escaped *, and the path is
		// then taken literally, backslash included.
		{"escaped wildcard", "COPY", []string{`we\*rd`}, errdefs.ErrNotFound, `stat we\*rd: file does not exist`},
		{"no match", "COPY", []string{"*.go"}, errdefs.ErrInvalid, "COPY failed: no source files were specified"},
		{"no match ADD", "ADD", []string{"nope*", "x?"}, errdefs.ErrInvalid, "ADD failed: no source files were specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Sources(tt.cmd, tt.patterns)
			wantErr(t, err, tt.class, tt.msg)
			if err != nil && err.Error() != tt.msg && !strings.HasPrefix(tt.msg, "stat") {
				t.Errorf("message %q, want exactly %q", err, tt.msg)
			}
		})
	}
}

func TestSourcesHash(t *testing.T) {
	one := []Source{{Rel: "a", Hash: "file:aa"}}
	if got := SourcesHash(one); got != "file:aa" {
		t.Errorf("one source: %q", got)
	}
	two := []Source{{Rel: "a", Hash: "file:aa"}, {Rel: "d", IsDir: true, Hash: "dir:dd"}}
	h := sha256.Sum256([]byte("file:aa,dir:dd"))
	if got, want := SourcesHash(two), "multi:"+hex.EncodeToString(h[:]); got != want {
		t.Errorf("two sources: %q, want %q", got, want)
	}
}

// lazyOracle is docker's lazy hash (remotecontext.NewFileHash) built from
// archive/tar's FileInfoHeader and docker's tarsum.WriteV1Header.
func lazyOracle(t *testing.T, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, rel)
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		t.Fatal(err)
	}
	st := lstat(t, p)
	hdr.Name = rel
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = int(st.Uid), int(st.Gid), "", ""
	h := sha256.New()
	tarsum.WriteV1Header(hdr, h)
	if fi.Mode().IsRegular() {
		h.Write([]byte(readFile(t, p)))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestRootSources(t *testing.T) {
	testenv.NeedRoot(t)
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"etc/passwd":       "root:x:0:0::/root:/bin/sh\n",
		"bin/tool":         "#!/bin/sh\n",
		"bin/sh":           "->tool",
		"usr/lib/":         "",
		"lib":              "->/usr/lib",
		"usr/lib/libc.so":  "ELF",
		"escape":           "->../../../../../..",
		"app/data/one.txt": "1",
	})
	if err := os.Chown(filepath.Join(root, "bin/tool"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(root, "bin/tool"), 0o755)

	got, err := RootSources(root, "COPY", []string{"/bin/sh"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "file:" + lazyOracle(t, root, "bin/tool"); len(got) != 1 || got[0].Hash != want || got[0].Rel != "bin/sh" {
		t.Errorf("bin/sh: %+v, want hash %s", got, want)
	}
	got, err = RootSources(root, "COPY", []string{"/lib"})
	if err != nil {
		t.Fatal(err)
	}
	if want := dirHash(lazyOracle(t, root, "usr/lib"), lazyOracle(t, root, "usr/lib/libc.so")); len(got) != 1 || !got[0].IsDir || got[0].Hash != want {
		t.Errorf("/lib: %+v, want %s", got, want)
	}
	got, err = RootSources(root, "COPY", []string{"escape/etc/passwd"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "file:" + lazyOracle(t, root, "etc/passwd"); got[0].Hash != want {
		t.Errorf("escape/etc/passwd resolved outside the root: %+v", got)
	}
	got, err = RootSources(root, "COPY", []string{"app/*/*.txt"})
	if err != nil || len(got) != 1 || got[0].Rel != "app/data/one.txt" {
		t.Errorf("wildcard: %+v, %v", got, err)
	}

	_, err = RootSources(root, "COPY", []string{"foo.txt"})
	wantErr(t, err, errdefs.ErrNotFound, "")
	if err != nil && err.Error() != "COPY failed: stat foo.txt: file does not exist" {
		t.Errorf("message %q", err)
	}
	_, err = RootSources(root, "COPY", []string{"../../etc/shadow"})
	wantErr(t, err, errdefs.ErrInvalid, "COPY failed: forbidden path outside the build context: ../../etc/shadow ()")
}
