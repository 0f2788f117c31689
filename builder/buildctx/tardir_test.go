package buildctx

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/internal/testenv"
)

// tarNames lists the entries of a tar, checking the docker CLI's owner
// rules on the way.
func tarNames(t *testing.T, data []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q, want 0:0 and no names", hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname)
		}
		if hdr.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: mtime %v has a fraction of a second", hdr.Name, hdr.ModTime)
		}
		n := hdr.Name
		if hdr.Typeflag == tar.TypeLink {
			n += " link to " + hdr.Linkname
		}
		names = append(names, n)
	}
}

func TestTarDir(t *testing.T) {
	testenv.NeedRoot(t)
	tests := []struct {
		name       string
		ignore     string
		dockerfile string
		want       []string
		removed    []string // what RemoveIgnored deletes after Extract
	}{
		{
			name:    "no .dockerignore",
			want:    []string{"Dockerfile", "app.log", "keep.log", "linked", "linked2 link to linked", "secret/", "secret/private", "secret/public.txt", "src/", "src/main.go", "src/tmp/", "src/tmp/x.log", "sub/", "sub/Dockerfile.dev"},
			removed: nil,
		},
		{
			name:    "excluded Dockerfile and .dockerignore are still sent",
			ignore:  "# comment\nDockerfile\n.dockerignore\n*.log\n!keep.log\nsecret\n!secret/public.txt\n",
			want:    []string{".dockerignore", "Dockerfile", "keep.log", "linked", "linked2 link to linked", "secret/public.txt", "src/", "src/main.go", "src/tmp/", "src/tmp/x.log", "sub/", "sub/Dockerfile.dev"},
			removed: []string{".dockerignore", "Dockerfile"},
		},
		{
			name:       "a Dockerfile in an excluded directory",
			ignore:     "sub\n**/*.log\n",
			dockerfile: "sub/Dockerfile.dev",
			want:       []string{".dockerignore", "Dockerfile", "linked", "linked2 link to linked", "secret/", "secret/private", "secret/public.txt", "src/", "src/main.go", "src/tmp/", "sub/Dockerfile.dev"},
			removed:    []string{"sub/Dockerfile.dev"},
		},
		{
			name:    "everything",
			ignore:  "*\n",
			want:    []string{".dockerignore", "Dockerfile"},
			removed: []string{".dockerignore", "Dockerfile"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{
				"Dockerfile":         "FROM scratch\n",
				"app.log":            "log",
				"keep.log":           "kept",
				"secret/private":     "s",
				"secret/public.txt":  "p",
				"src/main.go":        "package main",
				"src/tmp/x.log":      "x",
				"sub/Dockerfile.dev": "FROM scratch\n",
				"linked":             "hard",
			}
			if tt.ignore != "" {
				files[IgnoreFile] = tt.ignore
			}
			writeFiles(t, dir, files)
			if err := os.Link(filepath.Join(dir, "linked"), filepath.Join(dir, "linked2")); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := TarDir(context.Background(), dir, tt.dockerfile, &buf); err != nil {
				t.Fatal(err)
			}
			if got := tarNames(t, buf.Bytes()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries\n%q\nwant\n%q", got, tt.want)
			}
			var again bytes.Buffer
			TarDir(context.Background(), dir, tt.dockerfile, &again)
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Error("two tars of the same directory differ")
			}

			// The daemon's side: extract, read the Dockerfile, drop
			// what .dockerignore names.
			c, err := Extract(context.Background(), &buf, filepath.Join(t.TempDir(), "ctx"), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Remove()
			df := tt.dockerfile
			if df == "" {
				df = DefaultDockerfile
			}
			f, err := c.Open(df)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := c.RemoveIgnored(tt.dockerfile); err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.removed {
				notExist(t, filepath.Join(c.Dir(), n))
			}
			for _, n := range tt.want {
				n, _, _ = strings.Cut(n, " ")
				removed := false
				for _, r := range tt.removed {
					removed = removed || r == n
				}
				if _, err := os.Lstat(filepath.Join(c.Dir(), n)); (err == nil) == removed {
					t.Errorf("%s: removed %v, want %v", n, err != nil, removed)
				}
			}
			_, err = c.Sources("COPY", []string{"Dockerfile"})
			if contains(tt.removed, "Dockerfile") {
				wantErr(t, err, errdefs.ErrNotFound, "file not found in build context or excluded by .dockerignore")
			} else if err != nil {
				t.Error(err)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestTarDirErrors(t *testing.T) {
	dir := t.TempDir()
	err := TarDir(context.Background(), dir, "../Dockerfile", io.Discard)
	wantErr(t, err, errdefs.ErrInvalid, "must be within the build context")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	writeFiles(t, dir, map[string]string{"a": "a"})
	err = TarDir(ctx, dir, "", io.Discard)
	wantErr(t, err, errdefs.ErrUnavailable, "canceled")
}

func TestReadIgnoreFile(t *testing.T) {
	got, err := ReadIgnoreFile(strings.NewReader("\xEF\xBB\xBF# c\n  /a/b/../c  \n\n!  /keep\n**/*.o\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/c", "!keep", "**/*.o"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}
