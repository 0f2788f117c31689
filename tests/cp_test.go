//go:build linux

package tests

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerCp copies files in and out of containers with the stock docker
// CLI, as a user would, and checks what lands where: a running and a
// stopped container, directories, tar streams on stdin and stdout, a
// volume the container mounts, owners, dockerd's errors; then docker diff
// and docker export.
func TestDockerCp(t *testing.T) {
	d := startDockerd(t)
	host := t.TempDir()
	writeFile := func(rel, content string) {
		t.Helper()
		p := filepath.Join(host, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	writeFile("file.txt", "hello cp\n")
	writeFile("tree/a/b.txt", "deep\n")
	writeFile("tree/c.txt", "top\n")
	if err := os.Symlink("c.txt", filepath.Join(host, "tree/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(host, "file.txt"), 1234, 55); err != nil {
		t.Fatal(err)
	}

	d.mustDocker("volume", "create", "cpvol")
	d.mustDocker("run", "-d", "--name", "live", "-v", "cpvol:/data", "busybox", "sleep", "300")
	defer d.docker("rm", "-f", "live")
	d.mustDocker("create", "--name", "idle", "busybox", "true")
	defer d.docker("rm", "-f", "idle")

	t.Run("a file into a running container", func(t *testing.T) {
		d.mustDocker("cp", filepath.Join(host, "file.txt"), "live:/tmp/")
		out := d.mustDocker("exec", "live", "sh", "-c", "cat /tmp/file.txt; stat -c '%u:%g %a' /tmp/file.txt")
		if out != "hello cp\n1234:55 640\n" {
			t.Errorf("in the container, /tmp/file.txt reads %q, want its content, owner 1234:55 and mode 640", out)
		}
	})
	t.Run("a directory into a running container and back out", func(t *testing.T) {
		d.mustDocker("cp", filepath.Join(host, "tree"), "live:/srv")
		out := d.mustDocker("exec", "live", "sh", "-c", "cat /srv/a/b.txt /srv/c.txt; readlink /srv/link")
		if out != "deep\ntop\nc.txt\n" {
			t.Errorf("in the container: %q", out)
		}
		back := filepath.Join(t.TempDir(), "back")
		d.mustDocker("cp", "live:/srv", back)
		if data, err := os.ReadFile(filepath.Join(back, "a/b.txt")); err != nil || string(data) != "deep\n" {
			t.Errorf("copied back, a/b.txt: %q, %v", data, err)
		}
		if l, err := os.Readlink(filepath.Join(back, "link")); err != nil || l != "c.txt" {
			t.Errorf("copied back, link: %q, %v", l, err)
		}
	})
	t.Run("a directory's content with /.", func(t *testing.T) {
		dst := t.TempDir()
		d.mustDocker("cp", "live:/srv/.", dst)
		if _, err := os.Stat(filepath.Join(dst, "c.txt")); err != nil {
			t.Errorf("docker cp live:/srv/. %s: %v", dst, err)
		}
	})
	t.Run("into and out of a stopped container", func(t *testing.T) {
		d.mustDocker("cp", filepath.Join(host, "file.txt"), "idle:/etc/copied")
		dst := filepath.Join(t.TempDir(), "out")
		d.mustDocker("cp", "idle:/etc/copied", dst)
		if data, err := os.ReadFile(dst); err != nil || string(data) != "hello cp\n" {
			t.Errorf("copied out of the stopped container: %q, %v", data, err)
		}
		if out := d.mustDocker("start", "-a", "idle"); out != "" {
			t.Errorf("start -a idle: %q", out)
		}
	})
	t.Run("a tar stream in and out", func(t *testing.T) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		_ = tw.WriteHeader(&tar.Header{Name: "streamed/", Typeflag: tar.TypeDir, Mode: 0o755})
		_ = tw.WriteHeader(&tar.Header{Name: "streamed/x", Typeflag: tar.TypeReg, Mode: 0o600, Size: 3, Uid: 7, Gid: 8})
		_, _ = tw.Write([]byte("xyz"))
		_ = tw.Close()
		if _, errOut, code := d.dockerIn(buf.String(), "cp", "-", "live:/"); code != 0 {
			t.Fatalf("docker cp - live:/: exit %d: %s", code, errOut)
		}
		out := d.mustDocker("exec", "live", "sh", "-c", "cat /streamed/x; stat -c ' %u:%g %a' /streamed/x")
		if out != "xyz 7:8 600\n" {
			t.Errorf("in the container: %q", out)
		}
		tarOut := d.mustDocker("cp", "live:/streamed", "-")
		tr := tar.NewReader(strings.NewReader(tarOut))
		var names []string
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("docker cp live:/streamed -: %v", err)
			}
			names = append(names, h.Name)
		}
		if strings.Join(names, " ") != "streamed/ streamed/x" {
			t.Errorf("docker cp live:/streamed - holds %q", names)
		}
	})
	t.Run("into a volume the container mounts", func(t *testing.T) {
		d.mustDocker("cp", filepath.Join(host, "file.txt"), "live:/data/f")
		out := d.mustDocker("run", "--rm", "-v", "cpvol:/v", "busybox", "cat", "/v/f")
		if out != "hello cp\n" {
			t.Errorf("the volume holds %q, want what docker cp wrote through the container", out)
		}
	})
	t.Run("errors as dockerd's", func(t *testing.T) {
		_, errOut, code := d.docker("cp", "live:/nosuch", host)
		if code == 0 || !strings.Contains(errOut, "Could not find the file /nosuch in container live") {
			t.Errorf("docker cp live:/nosuch: exit %d, %q", code, errOut)
		}
		_, errOut, code = d.docker("cp", filepath.Join(host, "file.txt"), "live:/nosuchdir/x")
		if code == 0 || !strings.Contains(errOut, "Could not find the file /nosuchdir in container live") {
			t.Errorf("docker cp into /nosuchdir/x: exit %d, %q", code, errOut)
		}
		_, errOut, code = d.docker("cp", "nosuchcontainer:/etc", host)
		if code == 0 || !strings.Contains(errOut, "No such container") {
			t.Errorf("docker cp nosuchcontainer:/etc: exit %d, %q", code, errOut)
		}
	})
	t.Run("a hostile archive is refused and changes nothing", func(t *testing.T) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		_ = tw.WriteHeader(&tar.Header{Name: "esc", Typeflag: tar.TypeSymlink, Linkname: "/"})
		_ = tw.WriteHeader(&tar.Header{Name: "esc/tmp/pwned", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
		_, _ = tw.Write([]byte("x"))
		_ = tw.Close()
		code, body := d.call("PUT", "/containers/live/archive?path=/tmp", buf.String())
		if code != 400 {
			t.Errorf("PUT of an archive through a symlink: %d %s, want 400", code, body)
		}
		if _, err := os.Stat("/tmp/pwned"); err == nil {
			os.Remove("/tmp/pwned")
			t.Errorf("the archive wrote /tmp/pwned on the host")
		}
		if out, _, _ := d.docker("exec", "live", "ls", "/tmp/pwned"); out != "" {
			t.Errorf("the archive wrote /tmp/pwned in the container")
		}
	})
	t.Run("a read-only container takes copies into its volumes only", func(t *testing.T) {
		d.mustDocker("create", "--name", "ro", "--read-only", "-v", "/vol", "busybox", "true")
		defer d.docker("rm", "-fv", "ro")
		_, errOut, code := d.docker("cp", filepath.Join(host, "file.txt"), "ro:/tmp/")
		if code == 0 || !strings.Contains(errOut, "container rootfs is marked read-only") {
			t.Errorf("docker cp into a --read-only container's /tmp: exit %d, %q", code, errOut)
		}
		d.mustDocker("cp", filepath.Join(host, "file.txt"), "ro:/vol/")
	})
	t.Run("-a owns the copy by the container's user", func(t *testing.T) {
		d.mustDocker("create", "--name", "nob", "--user", "nobody", "busybox", "true")
		defer d.docker("rm", "-f", "nob")
		d.mustDocker("cp", "-a", filepath.Join(host, "file.txt"), "nob:/a")
		d.mustDocker("cp", filepath.Join(host, "file.txt"), "nob:/b")
		owners := map[string]string{}
		for _, name := range []string{"a", "b"} {
			tr := tar.NewReader(strings.NewReader(d.mustDocker("cp", "nob:/"+name, "-")))
			h, err := tr.Next()
			if err != nil {
				t.Fatal(err)
			}
			owners[name] = fmt.Sprintf("%d:%d", h.Uid, h.Gid)
		}
		// busybox's nobody is 65534:65534; without -a the archive's owner stays.
		if owners["a"] != "65534:65534" || owners["b"] != "1234:55" {
			t.Errorf("owners after docker cp -a and docker cp: %q, want a 65534:65534 and b 1234:55", owners)
		}
	})
	t.Run("HEAD stats a path as dockerd", func(t *testing.T) {
		req := d.http()
		resp, err := req.Head("http://docker/containers/live/archive?path=/bin/sh")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		data, _ := base64.StdEncoding.DecodeString(resp.Header.Get("X-Docker-Container-Path-Stat"))
		var st struct {
			Name       string `json:"name"`
			Mode       uint32 `json:"mode"`
			LinkTarget string `json:"linkTarget"`
		}
		if err := json.Unmarshal(data, &st); err != nil || st.Name != "sh" || st.LinkTarget != "/bin/busybox" || os.FileMode(st.Mode)&os.ModeSymlink == 0 {
			t.Errorf("HEAD /bin/sh: %d, stat %+v (%v), want sh, a symlink to /bin/busybox", resp.StatusCode, st, err)
		}
	})
	t.Run("diff", func(t *testing.T) {
		d.mustDocker("exec", "live", "rm", "/bin/true")
		out := d.mustDocker("diff", "live")
		for _, want := range []string{"C /bin\n", "D /bin/true\n", "A /srv\n", "A /srv/a/b.txt\n", "C /tmp\n", "A /tmp/file.txt\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("docker diff lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "/etc/hosts") || strings.Contains(out, "/data") {
			t.Errorf("docker diff shows the runtime's mount points:\n%s", out)
		}
	})
	t.Run("export", func(t *testing.T) {
		tarOut := d.mustDocker("export", "live")
		tr := tar.NewReader(strings.NewReader(tarOut))
		found := map[string]string{}
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("docker export: %v", err)
			}
			if h.Name == ".dockerenv" || (h.Name == "etc/mtab" && h.Linkname == "/proc/mounts") {
				found[h.Name] = "init"
			}
			if h.Name == "tmp/file.txt" || h.Name == "bin/busybox" || h.Name == "bin/true" {
				data, _ := io.ReadAll(tr)
				found[h.Name] = string(data[:min(len(data), 9)])
			}
		}
		if found["tmp/file.txt"] != "hello cp\n" || found["bin/busybox"] == "" {
			t.Errorf("docker export lacks tmp/file.txt or bin/busybox: %q", found)
		}
		if found[".dockerenv"] != "init" || found["etc/mtab"] != "init" {
			t.Errorf("docker export lacks dockerd's init layer (.dockerenv, etc/mtab -> /proc/mounts): %q", found)
		}
		if _, ok := found["bin/true"]; ok {
			t.Errorf("docker export holds the deleted bin/true")
		}
	})
}

// TestDctlCp copies with dctl over 9P, in the same forms as docker cp, and
// reads docker diff's and docker export's answers from dctl diff and dctl
// export; then the same through the tree's files with shell tools.
func TestDctlCp(t *testing.T) {
	d := startDaemon(t)
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "tree/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, content := range map[string]string{"file.txt": "hello dctl\n", "tree/sub/x": "x\n", "tree/y": "y\n"} {
		if err := os.WriteFile(filepath.Join(host, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustDctl := func(args ...string) string {
		t.Helper()
		out, errOut, code := d.dctl(args...)
		if code != 0 {
			t.Fatalf("dctl %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	mustDctl("run", "-d", "--name", "live", "busybox", "sleep", "300")
	defer d.dctl("rm", "-f", "live")
	mustDctl("create", "--name", "idle", "busybox", "true")
	defer d.dctl("rm", "-f", "idle")

	t.Run("in and out of a running container", func(t *testing.T) {
		mustDctl("cp", filepath.Join(host, "file.txt"), "live:/tmp/")
		mustDctl("cp", filepath.Join(host, "tree"), "live:/srv")
		if out := mustDctl("exec", "live", "cat", "/tmp/file.txt", "/srv/sub/x", "/srv/y"); out != "hello dctl\nx\ny\n" {
			t.Errorf("in the container: %q", out)
		}
		back := filepath.Join(t.TempDir(), "back")
		mustDctl("cp", "live:/srv", back)
		if data, err := os.ReadFile(filepath.Join(back, "sub/x")); err != nil || string(data) != "x\n" {
			t.Errorf("copied back: %q, %v", data, err)
		}
	})
	t.Run("a stopped container", func(t *testing.T) {
		mustDctl("cp", filepath.Join(host, "file.txt"), "idle:/copied")
		dst := filepath.Join(t.TempDir(), "f")
		mustDctl("cp", "idle:/copied", dst)
		if data, err := os.ReadFile(dst); err != nil || string(data) != "hello dctl\n" {
			t.Errorf("copied out of the stopped container: %q, %v", data, err)
		}
		if out := d.sh("cat containers/idle/root/copied"); out != "hello dctl\n" {
			t.Errorf("containers/idle/root/copied reads %q", out)
		}
	})
	t.Run("shell tools on root/", func(t *testing.T) {
		d.sh("mkdir containers/live/root/made && echo written > containers/live/root/made/by-echo")
		if out := mustDctl("exec", "live", "cat", "/made/by-echo"); out != "written\n" {
			t.Errorf("the container reads %q from a file written in root/", out)
		}
	})
	t.Run("tar streams", func(t *testing.T) {
		tarOut := mustDctl("cp", "live:/tmp/file.txt", "-")
		tr := tar.NewReader(strings.NewReader(tarOut))
		h, err := tr.Next()
		if err != nil || h.Name != "file.txt" {
			t.Fatalf("dctl cp live:/tmp/file.txt -: %v %+v", err, h)
		}
		if _, errOut, code := d.dctlIn(tarOut, "cp", "-", "live:/srv"); code != 0 {
			t.Fatalf("dctl cp - live:/srv: %s", errOut)
		}
		if out := mustDctl("exec", "live", "cat", "/srv/file.txt"); out != "hello dctl\n" {
			t.Errorf("after dctl cp -: %q", out)
		}
	})
	t.Run("errors", func(t *testing.T) {
		_, errOut, code := d.dctl("cp", "live:/nosuch", host)
		if code == 0 || !strings.Contains(errOut, "Could not find the file /nosuch in container live") {
			t.Errorf("dctl cp live:/nosuch: exit %d, %q", code, errOut)
		}
	})
	t.Run("diff and export", func(t *testing.T) {
		out := mustDctl("diff", "live")
		for _, want := range []string{"A /srv\n", "C /tmp\n", "A /tmp/file.txt\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("dctl diff lacks %q:\n%s", want, out)
			}
		}
		if got := d.sh("cat containers/live/changes"); got != out {
			t.Errorf("containers/live/changes reads %q, dctl diff printed %q", got, out)
		}
		exp := filepath.Join(t.TempDir(), "exp.tar")
		mustDctl("export", "-o", exp, "live")
		f, err := os.Open(exp)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tr := tar.NewReader(f)
		found := false
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			found = found || h.Name == "srv/sub/x"
		}
		if !found {
			t.Errorf("dctl export lacks srv/sub/x")
		}
	})
}
