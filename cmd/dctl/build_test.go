package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/docker/go-units"

	"github.com/enginefs/enginefs/errdefs"
)

// buildTree is a tree with build job 7: its clone, ctl (start answers
// startErr), context, progress and status.
func buildTree(startErr error, progress ...string) *fakeTree {
	f := newFakeTree()
	f.clone("builds/clone", "7", nil)
	f.ctl("builds/7/ctl", func(line string) (string, error) {
		if line == "start" {
			return "", startErr
		}
		return "", nil
	})
	f.sink("builds/7/context")
	f.stream("builds/7/progress", progress...)
	f.file("builds/7/status", "done sha256:1234\n")
	return f
}

// writeFiles makes the files (path → content; a path ending in / a
// directory) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tarFiles reads a tar: its names in order, and the content of its
// regular files.
func tarFiles(t *testing.T, data []byte) ([]string, map[string]string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	files := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		if err != nil {
			t.Fatalf("the context is not a tar: %v", err)
		}
		names = append(names, hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[hdr.Name] = string(b)
		}
	}
}

// TestBuild: build sends its flags as the job's build line and the context
// directory, less what .dockerignore leaves out, as a tar; the progress is
// shown as docker shows it.
func TestBuild(t *testing.T) {
	t.Setenv("DCTL_TEST_ARG", "from the client")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile":    "FROM busybox\nCOPY . /app\n",
		".dockerignore": "*.log\nsecret/\n!keep.log\n",
		"app.txt":       "app",
		"debug.log":     "noise",
		"keep.log":      "kept",
		"secret/key":    "hidden",
		"sub/a.txt":     "a",
	})
	progress := []string{`{"stream":"Step 1/2 : FROM busybox\n"}` + "\n", `{"stream":" ---\u003e 1234abcd\n"}` + "\n",
		`{"aux":{"ID":"sha256:abcd"}}` + "\n" + `{"stream":"Successfully built abcd\n"}` + "\n"}
	f := buildTree(nil, progress...)
	stdout, stderr, err := f.dctl(t, "build", "-t", "app:1", "-t", "app:latest", "--build-arg", "A=1", "--build-arg", "DCTL_TEST_ARG",
		"--build-arg", "DCTL_TEST_UNSET_ARG", "--label", "l=v", "--no-cache", "--pull", "-m", "64m", "--cpu-shares", "512",
		"--ulimit", "nofile=10:20", "--network", "host", "--target", "final", dir)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	sameLines(t, "build", f.recorded(), []string{
		"builds/clone: build t=app:1 t=app:latest file=Dockerfile build-arg=A=1 build-arg='DCTL_TEST_ARG=from the client' " +
			"build-arg=DCTL_TEST_UNSET_ARG target=final label=l=v no-cache=true pull=true network=host memory=64m cpu-shares=512 " +
			"ulimit=nofile=10:20",
		"builds/7/ctl: start",
	})
	ctx := f.written("builds/7/context")
	names, files := tarFiles(t, ctx)
	if want := []string{".dockerignore", "Dockerfile", "app.txt", "keep.log", "sub/", "sub/a.txt"}; !reflect.DeepEqual(names, want) {
		t.Errorf("the context holds %q, want %q", names, want)
	}
	if files["Dockerfile"] != "FROM busybox\nCOPY . /app\n" || files["sub/a.txt"] != "a" || files["keep.log"] != "kept" {
		t.Errorf("the context's files %q", files)
	}
	want := "Sending build context to Docker daemon  " + units.HumanSizeWithPrecision(float64(len(ctx)), 4) + "\n" +
		"Step 1/2 : FROM busybox\n ---> 1234abcd\nSuccessfully built abcd\n"
	if stdout != want || stderr != "" {
		t.Errorf("printed %q and %q, want %q", stdout, stderr, want)
	}
}

// TestBuildDockerfileOutside: a Dockerfile outside the context goes in the
// tar under a name of its own, which the build line names; -q prints the
// image id alone.
func TestBuildDockerfileOutside(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\n", "a": "a"})
	writeFiles(t, other, map[string]string{"Dockerfile.dev": "FROM busybox\n"})
	f := buildTree(nil, `{"stream":"sha256:abcd\n"}`+"\n")
	stdout, stderr, err := f.dctl(t, "build", "-q", "-f", filepath.Join(other, "Dockerfile.dev"), dir)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	lines := f.recorded()
	m := regexp.MustCompile(`^builds/clone: build file=(\.dockerfile\.[0-9a-f]{16}) q=true$`).FindStringSubmatch(lines[0])
	if len(lines) != 2 || m == nil || lines[1] != "builds/7/ctl: start" {
		t.Fatalf("lines %q", lines)
	}
	names, files := tarFiles(t, f.written("builds/7/context"))
	if want := []string{"Dockerfile", "a", m[1]}; !reflect.DeepEqual(names, want) || files[m[1]] != "FROM busybox\n" {
		t.Errorf("the context holds %q (%q), want %q", names, files, want)
	}
	if stdout != "sha256:abcd\n" {
		t.Errorf("printed %q, want the id alone", stdout)
	}
}

// TestBuildFailures: a build that fails ends with its error and exit code;
// what dctl refuses writes nothing.
func TestBuildFailures(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN false\n"})
	for _, tc := range []struct {
		name     string
		args     []string
		startErr error
		progress []string
		lines    int
		stderr   string
		code     int // the exit code of an exitError; 0 another error
		msg      string
	}{
		{"a step fails", []string{"build", dir}, nil, []string{`{"stream":"Step 2/2 : RUN false\n"}` + "\n",
			`{"errorDetail":{"code":2,"message":"The command '/bin/sh -c false' returned a non-zero code: 2"},"error":"The command '/bin/sh -c false' returned a non-zero code: 2"}` + "\n"},
			2, "The command '/bin/sh -c false' returned a non-zero code: 2\n", 2, ""},
		{"the Dockerfile is bad", []string{"build", dir}, errdefs.Invalid("Dockerfile:2: unknown instruction: RUNN"), nil,
			2, "", 0, "Dockerfile:2: unknown instruction: RUNN"},
		{"--rm=false", []string{"build", "--rm=false", dir}, nil, nil, 0, "", 0, "--rm=false is not supported: a build removes its containers"},
		{"no such directory", []string{"build", filepath.Join(dir, "nosuch")}, nil, nil, 0, "", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := buildTree(tc.startErr, tc.progress...)
			_, stderr, err := f.dctl(t, tc.args...)
			if got := f.recorded(); len(got) != tc.lines {
				t.Errorf("lines %q, want %d", got, tc.lines)
			}
			var ee exitError
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.code != 0 && (!errors.As(err, &ee) || ee.code != tc.code):
				t.Errorf("error %v, want exit code %d", err, tc.code)
			case tc.msg != "" && err.Error() != tc.msg:
				t.Errorf("error %q, want %q", err, tc.msg)
			}
			if stderr != tc.stderr {
				t.Errorf("stderr %q, want %q", stderr, tc.stderr)
			}
		})
	}
}

// TestImport: import sends the tar as an import job's context and prints
// the image id of its status.
func TestImport(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(file, []byte("a root file system"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := buildTree(nil)
	stdout, stderr, err := f.dctl(t, "import", "-c", `CMD ["sh"]`, "-m", "from a tar", "--platform", "linux/arm64", file, "imp:v1")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	sameLines(t, "import", f.recorded(), []string{
		`builds/clone: import imp:v1 change='CMD ["sh"]' message='from a tar' platform=linux/arm64`,
		"builds/7/ctl: start",
	})
	if got := string(f.written("builds/7/context")); got != "a root file system" {
		t.Errorf("context %q", got)
	}
	if stdout != "sha256:1234\n" {
		t.Errorf("printed %q", stdout)
	}
	f = buildTree(nil)
	f.file("builds/7/status", "failed: not a tar\n")
	if _, _, err := f.dctl(t, "import", file); err == nil || err.Error() != "failed: not a tar" {
		t.Errorf("a failed import: %v", err)
	}
}
