//go:build linux

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// dctlIn runs dctl against the daemon from the working directory dir, with
// stdin from in (nil: none); it returns stdout, stderr and the exit code.
func (d *daemon) dctlAtDir(dir string, in io.Reader, args ...string) (string, string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.dctl, append([]string{"-H", d.sock}, args...)...)
	cmd.Dir, cmd.Stdin = dir, in
	return runCmd(d.t, cmd)
}

// dctlOnPty runs dctl with its stdout and stderr on a new terminal (and its
// stdin too, unless in is given) and returns what the terminal showed,
// carriage returns removed, and the exit code.
func (d *daemon) dctlOnPty(in *os.File, args ...string) (string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.dctl, append([]string{"-H", d.sock}, args...)...)
	ctty := 0 // the child's fd of the terminal that becomes its controlling one
	if in != nil {
		cmd.Stdin, ctty = in, 1
	}
	tty, err := pty.StartWithAttrs(cmd, &pty.Winsize{Rows: 40, Cols: 150}, &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: ctty})
	if err != nil {
		d.t.Fatalf("starting dctl on a pty: %v", err)
	}
	return readTerminal(d.t, cmd, tty)
}

// freePortPair returns a port p of loopback such that p and p+1 are free.
func freePortPair(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		p := freeLoopbackPort(t)
		if p >= 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err != nil {
			continue
		}
		l.Close()
		if u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			u.Close()
			if u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
				u.Close()
				return p
			}
		}
	}
	t.Fatal("no two consecutive free loopback ports")
	return 0
}

// TestDctlRelativeBind: -v and --mount sources starting with "." are the
// client's paths, made absolute from dctl's working directory as the docker
// CLI does; a relative name without the dot is a named volume.
func TestDctlRelativeBind(t *testing.T) {
	d := startDaemon(t)
	base := t.TempDir()
	mustWrite(t, filepath.Join(base, "site", "f"), "relative\n")
	if err := os.Mkdir(filepath.Join(base, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir  string
		args []string
	}{
		{base, []string{"-v", "./site:/s"}},
		{filepath.Join(base, "sub"), []string{"-v", "../site:/s:ro"}},
		{filepath.Join(base, "site"), []string{"-v", ".:/s"}},
		{base, []string{"--mount", "type=bind,source=./site,target=/s,readonly"}},
		{filepath.Join(base, "sub"), []string{"--mount", "type=bind,src=../site,dst=/s"}},
	} {
		args := append(append([]string{"run", "--rm"}, c.args...), "busybox", "cat", "/s/f")
		if out, errOut, code := d.dctlAtDir(c.dir, nil, args...); code != 0 || out != "relative\n" {
			t.Errorf("in %s: dctl %s: exit %d, %q %q; want the file", c.dir, strings.Join(args, " "), code, out, errOut)
		}
	}
	if _, errOut, code := d.dctlAtDir(base, nil, "create", "--name", "rel", "-v", "./site:/s", "busybox"); code != 0 {
		t.Fatalf("create -v ./site:/s: exit %d, %s", code, errOut)
	}
	if m := d.mountsOf("rel"); len(m) != 1 || m[0].Type != "bind" || m[0].Source != filepath.Join(base, "site") {
		t.Errorf("inspect rel: mounts %+v; want a bind of %s", m, filepath.Join(base, "site"))
	}
	d.mustDctl("rm", "rel")
	// Without the dot it names a volume, made on first use.
	if _, errOut, code := d.dctlAtDir(base, nil, "run", "--rm", "-v", "site:/s", "busybox", "sh", "-c", "echo v > /s/g"); code != 0 {
		t.Fatalf("run -v site:/s: exit %d, %s", code, errOut)
	}
	if ls := d.mustDctl("volume", "ls", "-q"); ls != "site\n" {
		t.Errorf("volume ls after -v site:/s: %q, want the volume site", ls)
	}
	if _, err := os.Stat(filepath.Join(base, "site", "g")); err == nil {
		t.Error("-v site:/s wrote into the directory ./site")
	}
	d.mustDctl("volume", "rm", "site")
}

// TestDctlRmVolumes: rm -v removes the container's anonymous volumes (of
// the image's VOLUME and of -v /path), rm alone keeps them, and neither
// removes a named volume; the REST bridge's DELETE ?v=1 does the same.
func TestDctlRmVolumes(t *testing.T) {
	d := startDockerd(t)
	loadVolumeImage(t, d.daemon)
	vols := func() []string { return strings.Fields(d.mustDctl("volume", "ls", "-q")) }
	d.mustDctl("create", "--name", "keep", "-v", "named:/n", "-v", "/anon", "withvol", "true")
	if v := vols(); len(v) != 3 {
		t.Fatalf("volumes after create: %v; want named and two anonymous ones", v)
	}
	d.mustDctl("rm", "keep")
	kept := vols()
	if len(kept) != 3 {
		t.Errorf("rm without -v removed volumes: %v left", kept)
	}
	d.mustDctl("create", "--name", "drop", "-v", "named:/n", "-v", "/anon", "withvol", "true")
	if v := vols(); len(v) != 5 {
		t.Fatalf("volumes after the second create: %v", v)
	}
	if out := d.mustDctl("rm", "-v", "drop"); out != "drop\n" {
		t.Errorf("rm -v printed %q", out)
	}
	if v := strings.Join(vols(), " "); v != strings.Join(kept, " ") {
		t.Errorf("after rm -v: volumes %s; want %s (its two anonymous ones gone, named kept)", v, strings.Join(kept, " "))
	}
	// The REST bridge, as docker rm -v sends it.
	id := strings.TrimSpace(d.mustDocker("create", "-v", "/anon2", "busybox", "true"))
	if v := vols(); len(v) != 4 {
		t.Fatalf("volumes after docker create -v /anon2: %v", v)
	}
	if status, body := d.call("DELETE", "/v1.50/containers/"+id+"?v=1", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE ?v=1: %d %s", status, body)
	}
	if v := strings.Join(vols(), " "); v != strings.Join(kept, " ") {
		t.Errorf("after DELETE ?v=1: volumes %s; want %s", v, strings.Join(kept, " "))
	}
}

// TestPortRanges: -p with ranges publishes each port of the range (tcp
// and udp), a container range alone gets free host ports, a host range for
// one container port takes its first free port, and ranges of different
// lengths are refused with EINVAL naming the value.
func TestPortRanges(t *testing.T) {
	d := startDaemon(t)
	two := "mkdir -p /www && echo range > /www/index.html && httpd -p 81 -h /www && exec httpd -f -p 80 -h /www"
	p := freePortPair(t)
	d.mustDctl("run", "-d", "--name", "tcp", "-p", fmt.Sprintf("127.0.0.1:%d-%d:80-81", p, p+1), "busybox", "sh", "-c", two)
	for _, port := range []int{p, p + 1} {
		if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "range\n" {
			t.Errorf("GET on %d = %q", port, got)
		}
	}
	if ps := d.mustDctl("ps"); !strings.Contains(ps, fmt.Sprintf("127.0.0.1:%d->80/tcp, 127.0.0.1:%d->81/tcp", p, p+1)) {
		t.Errorf("ps does not show both ports:\n%s", ps)
	}

	d.mustDctl("run", "-d", "--name", "anyport", "-p", "80-81", "busybox", "sh", "-c", two)
	ports := d.inspectNet("anyport").Ports
	for _, cp := range []string{"80/tcp", "81/tcp"} {
		if len(ports[cp]) != 1 || ports[cp][0].HostPort == "" || ports[cp][0].HostPort == "0" {
			t.Fatalf("-p 80-81: %s published as %+v", cp, ports[cp])
		}
		if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%s/", ports[cp][0].HostPort)); got != "range\n" {
			t.Errorf("GET on the host port of %s = %q", cp, got)
		}
	}

	u := freePortPair(t)
	d.mustDctl("run", "-d", "--name", "udp", "-p", fmt.Sprintf("127.0.0.1:%d-%d:9000-9001/udp", u, u+1), "busybox", "sleep", "300")
	ports = d.inspectNet("udp").Ports
	for i, cp := range []string{"9000/udp", "9001/udp"} {
		if len(ports[cp]) != 1 || ports[cp][0].HostPort != fmt.Sprint(u+i) {
			t.Errorf("%s published as %+v, want host port %d", cp, ports[cp], u+i)
		}
		if c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", u+i)); err == nil {
			c.Close()
			t.Errorf("udp port %d is free: %s is not published", u+i, cp)
		}
	}

	// A host range for one port: the first free one (the test holds p2).
	p2 := freePortPair(t)
	held, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p2))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	d.mustDctl("run", "-d", "--name", "hostrange", "-p", fmt.Sprintf("127.0.0.1:%d-%d:80", p2, p2+1), "busybox", "sh", "-c", httpdScript("second"))
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", p2+1)); got != "second\n" {
		t.Errorf("GET on %d = %q", p2+1, got)
	}

	for _, bad := range []string{"8080-8082:80-81", "127.0.0.1:9000-9001:9000-9002/udp", "80-70"} {
		_, errOut, code := d.dctl("run", "--rm", "-p", bad, "busybox", "true")
		if code != 125 || !strings.Contains(errOut, `"`+bad+`"`) || !strings.Contains(errOut, "invalid") {
			t.Errorf("run -p %s: exit %d, %q; want 125 and an invalid error naming it", bad, code, errOut)
		}
		if _, errOut, err := d.trySh("echo create image=busybox publish=" + bad + " > containers/ctl"); err == nil || !strings.Contains(errOut, "Invalid argument") {
			t.Errorf("create publish=%s over the tree: %v %q; want EINVAL", bad, err, errOut)
		}
	}
	if ps := d.mustDctl("ps", "-a", "-q"); strings.Count(ps, "\n") != 4 {
		t.Errorf("refused creates left containers:\n%s", ps)
	}
}

// TestPublishNetworks: ports published on the host network are discarded
// with docker's warning (dctl and the docker CLI through the bridge), and
// -p for a container on no bridge network it could be served from is
// refused at create: EINVAL naming the flag, 400 over the bridge.
func TestPublishNetworks(t *testing.T) {
	d := startDockerd(t)
	const warning = "WARNING: Published ports are discarded when using host network mode"
	out, errOut, code := d.dctl("run", "--rm", "--network", "host", "-p", "80:80", "busybox", "echo", "ran")
	if code != 0 || out != "ran\n" || strings.Count(errOut, warning) != 1 {
		t.Errorf("dctl run --network host -p 80:80: exit %d, %q, stderr %q; want it run with the warning", code, out, errOut)
	}
	out, errOut, code = d.docker("run", "--rm", "--network", "host", "-p", "80:80", "busybox", "echo", "ran")
	if code != 0 || out != "ran\n" || !strings.Contains(errOut, warning) {
		t.Errorf("docker run --network host -p 80:80: exit %d, %q, stderr %q; want it run with the warning", code, out, errOut)
	}
	port := freeLoopbackPort(t)
	d.mustDctl("run", "-d", "--name", "onhost", "--network", "host", "-p", fmt.Sprintf("127.0.0.1:%d:8", port), "busybox", "sleep", "300")
	if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		t.Errorf("the host port of a host-network container was published: %v", err)
	} else {
		l.Close()
	}
	for cp, bs := range d.inspectNet("onhost").Ports {
		if len(bs) > 0 {
			t.Errorf("inspect shows %s published for the host-network container: %+v", cp, bs)
		}
	}

	d.mustDctl("network", "create", "--internal", "inside")
	_, errOut, code = d.dctl("create", "--name", "c1", "--network", "inside", "-p", "80", "busybox")
	if code != 125 || !strings.Contains(errOut, "-p") || !strings.Contains(errOut, "inside") {
		t.Errorf("create -p on an internal network: exit %d, %q; want 125 naming -p and the network", code, errOut)
	}
	if _, errOut, err := d.trySh("echo create image=busybox network=inside publish=80 > containers/ctl"); err == nil || !strings.Contains(errOut, "Invalid argument") {
		t.Errorf("create network=inside publish=80 over the tree: %v %q; want EINVAL", err, errOut)
	}
	status, body := d.call("POST", "/v1.50/containers/create",
		`{"Image": "busybox", "HostConfig": {"NetworkMode": "inside", "PortBindings": {"80/tcp": [{}]}}}`)
	if status != http.StatusBadRequest || !bytes.Contains(body, []byte("-p")) {
		t.Errorf("POST /containers/create -p on an internal network: %d %s; want 400 naming -p", status, body)
	}
	if ps := d.mustDctl("ps", "-a", "-q"); strings.Count(ps, "\n") != 1 {
		t.Errorf("refused creates left containers:\n%s", ps)
	}
}

// TestDctlLoadQuiet: on a terminal, dctl load shows its progress sending
// the archive and then docker's "Loaded image" lines; -q (or an output
// that is no terminal) shows only those lines; a terminal as the archive
// is refused as docker does.
func TestDctlLoadQuiet(t *testing.T) {
	d := startDaemon(t)
	archive := func() *os.File {
		f, err := os.Open(bins.busybox)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	out, code := d.dctlOnPty(archive(), "load")
	if code != 0 || !strings.Contains(out, "archive: Sent ") || !strings.HasSuffix(out, "Loaded image: busybox:latest\n") {
		t.Errorf("load on a terminal: exit %d, %q; want the progress and the loaded image", code, out)
	}
	if out, code := d.dctlOnPty(archive(), "load", "-q"); code != 0 || out != "Loaded image: busybox:latest\n" {
		t.Errorf("load -q on a terminal: exit %d, %q; want only the loaded image", code, out)
	}
	if out, errOut, code := d.dctlAtDir("", archive(), "load"); code != 0 || out != "Loaded image: busybox:latest\n" || errOut != "" {
		t.Errorf("load to a pipe: exit %d, %q %q; want only the loaded image", code, out, errOut)
	}
	if out, code := d.dctlOnPty(nil, "load"); code == 0 || !strings.Contains(out, "requested load from stdin, but stdin is empty") {
		t.Errorf("load from a terminal: exit %d, %q; want docker's refusal", code, out)
	}
}

// TestVolumePluginErrors: the text of a volume plugin's error reply gives
// its class where it says one: EEXIST and EINVAL over the tree, 409 and
// 400 over the REST bridge; one that says none stays unclassed (EIO, 500)
// with the plugin's message.
func TestVolumePluginErrors(t *testing.T) {
	plugins := t.TempDir()
	serveErrPlugin(t, filepath.Join(plugins, "errplug.sock"))
	d := startDockerd(t, "--plugin-dir", plugins)
	for _, c := range []struct {
		name, errno string
		status      int
		msg         string
	}{
		{"dup", "File exists", http.StatusConflict, "volume dup already exists"},
		{"odd", "Invalid argument", http.StatusBadRequest, "invalid option: colour"},
		{"broken", "Input/output error", http.StatusInternalServerError, "the disk caught fire"},
	} {
		_, errOut, err := d.trySh("echo create " + c.name + " driver=errplug > volumes/ctl")
		if err == nil || !strings.Contains(errOut, c.errno) {
			t.Errorf("volume create %s over the tree: %v %q; want %s", c.name, err, errOut, c.errno)
		}
		if msg := d.sh("cat volumes/err"); !strings.Contains(msg, c.msg) || !strings.Contains(msg, "errplug") {
			t.Errorf("volumes/err after create %s: %q; want the plugin's message, naming it", c.name, msg)
		}
		status, body := d.call("POST", "/v1.50/volumes/create", `{"Name": "`+c.name+`", "Driver": "errplug"}`)
		if status != c.status || !bytes.Contains(body, []byte(c.msg)) {
			t.Errorf("POST /volumes/create %s: %d %s; want %d", c.name, status, body, c.status)
		}
	}
	if ls := d.mustDctl("volume", "ls", "-q"); ls != "" {
		t.Errorf("refused creates left volumes: %q", ls)
	}
}

// serveErrPlugin serves on sock a volume plugin that refuses every create
// with an error reply chosen by the volume's name, until the test ends.
func serveErrPlugin(t *testing.T, sock string) {
	t.Helper()
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]string{"dup": "volume dup already exists", "odd": "invalid option: colour", "broken": "the disk caught fire"}
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.2+json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST /Plugin.Activate", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string][]string{"Implements": {"VolumeDriver"}})
	})
	mux.HandleFunc("POST /VolumeDriver.Capabilities", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"Capabilities": map[string]string{"Scope": "local"}})
	})
	mux.HandleFunc("POST /VolumeDriver.List", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"Volumes": []any{}})
	})
	mux.HandleFunc("POST /VolumeDriver.Create", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Name string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		msg, ok := errs[req.Name]
		if !ok {
			msg = "unexpected volume " + req.Name
		}
		reply(w, map[string]string{"Err": msg})
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Name string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		reply(w, map[string]string{"Err": "no such volume: " + req.Name})
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}
