//go:build linux

package tests

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keptLine is one entry of docker's json-file log.
type keptLine struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

// driverEntries reads what a json-file driver kept at path, as dockerd
// reads it: path.N (gzipped or not), ..., path.1, then path.
func driverEntries(t *testing.T, path string) []keptLine {
	t.Helper()
	names, _ := filepath.Glob(path + ".*")
	type rotated struct {
		n    int
		name string
	}
	var rs []rotated
	for _, name := range names {
		num := strings.TrimSuffix(strings.TrimPrefix(name, path+"."), ".gz")
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		rs = append(rs, rotated{n, name})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].n > rs[j].n })
	var out []keptLine
	read := func(name string) {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			r = zr
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var l keptLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s: %q: %v", name, sc.Text(), err)
			}
			out = append(out, l)
		}
	}
	for _, r := range rs {
		read(r.name)
	}
	read(path)
	return out
}

func joinLogs(es []keptLine, stamps bool) string {
	var b strings.Builder
	for _, e := range es {
		if stamps {
			ts, _ := time.Parse(time.RFC3339Nano, e.Time)
			b.WriteString(ts.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") + " ")
		}
		b.WriteString(e.Log)
	}
	return b.String()
}

// TestDockerLogsReadDriverFiles runs containers with the json-file driver
// rotating at 1k: docker logs shows what the driver's files hold (the
// rotated ones first, gzipped or not), not what rotation dropped, and
// --tail, -t, --since and --until work on those entries, as dockerd's.
func TestDockerLogsReadDriverFiles(t *testing.T) {
	d := startDockerd(t)
	for _, tc := range []struct {
		name string
		opts []string
	}{
		{"plain", []string{"--log-opt", "max-size=1k", "--log-opt", "max-file=2"}},
		{"compressed", []string{"--log-opt", "max-size=1k", "--log-opt", "max-file=3", "--log-opt", "compress=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"run", "--name", "rot-" + tc.name, "--log-driver", "json-file"}, tc.opts...),
				"busybox", "sh", "-c", "i=1; while [ $i -le 500 ]; do echo line $i; i=$((i+1)); done; echo to-stderr >&2")
			d.mustDocker(args...)
			path := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.LogPath}}", "rot-"+tc.name))
			kept := driverEntries(t, path)
			var stdout, stderr []keptLine
			for _, e := range kept {
				if e.Stream == "stdout" {
					stdout = append(stdout, e)
				} else {
					stderr = append(stderr, e)
				}
			}
			if len(stdout) < 10 || len(stdout) > 100 {
				t.Fatalf("the driver kept %d stdout lines of 500 with max-size=1k", len(stdout))
			}
			if stdout[len(stdout)-1].Log != "line 500\n" {
				t.Fatalf("the driver's last line is %q", stdout[len(stdout)-1].Log)
			}
			out, errOut, code := d.docker("logs", "rot-"+tc.name)
			if code != 0 || out != joinLogs(stdout, false) || errOut != joinLogs(stderr, false) {
				t.Errorf("docker logs: exit %d\nstdout %q\nstderr %q\nwant what the files hold:\n%q", code, out, errOut, joinLogs(stdout, false))
			}
			// --tail counts from the end across the files.
			nCur := 0
			if all, err := os.ReadFile(path); err == nil {
				nCur = strings.Count(string(all), "\n")
			}
			for _, n := range []int{5, nCur + 3} {
				want := kept[len(kept)-n:]
				var wantOut []keptLine
				for _, e := range want {
					if e.Stream == "stdout" {
						wantOut = append(wantOut, e)
					}
				}
				out := d.mustDocker("logs", "--tail", strconv.Itoa(n), "rot-"+tc.name)
				if out != joinLogs(wantOut, false) {
					t.Errorf("docker logs --tail %d (the current file holds %d): %q, want %q", n, nCur, out, joinLogs(wantOut, false))
				}
			}
			// -t prints the entries' own times.
			if out := d.mustDocker("logs", "-t", "rot-"+tc.name); out != joinLogs(stdout, true) {
				t.Errorf("docker logs -t:\n%q\nwant the JSON's times:\n%q", out, joinLogs(stdout, true))
			}
			// --since and --until by the entries' times.
			mid := stdout[len(stdout)/2]
			ts, _ := time.Parse(time.RFC3339Nano, mid.Time)
			arg := fmt.Sprintf("%d.%09d", ts.Unix(), ts.Nanosecond())
			var since, until []keptLine
			for _, e := range stdout {
				et, _ := time.Parse(time.RFC3339Nano, e.Time)
				if !et.Before(ts) {
					since = append(since, e)
				}
				if !et.After(ts) {
					until = append(until, e)
				}
			}
			if out := d.mustDocker("logs", "--since", arg, "rot-"+tc.name); out != joinLogs(since, false) {
				t.Errorf("docker logs --since %s: %q, want %q", arg, out, joinLogs(since, false))
			}
			if out := d.mustDocker("logs", "--until", arg, "rot-"+tc.name); out != joinLogs(until, false) {
				t.Errorf("docker logs --until %s: %q, want %q", arg, out, joinLogs(until, false))
			}
		})
	}
	// The local driver's files are read the same way.
	d.mustDocker("run", "--name", "loc", "--log-driver", "local", "busybox", "sh", "-c", "echo one; echo two >&2")
	if out, errOut, code := d.docker("logs", "loc"); code != 0 || out != "one\n" || errOut != "two\n" {
		t.Errorf("docker logs of a local container: exit %d, %q, %q", code, out, errOut)
	}
	// The tree's logs file reads the same.
	out, errOut, err := d.trySh("cat " + d.mnt + "/containers/rot-plain/logs")
	path := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.LogPath}}", "rot-plain"))
	if want := joinLogs(driverEntries(t, path), false); err != nil || out != want {
		t.Errorf("cat containers/rot-plain/logs: %v %q\n%q\nwant %q", err, errOut, out, want)
	}
}

// TestDockerLogsFollowRotation follows a json-file container rotating at
// 1k with docker logs -f started after a first burst has been rotated away:
// the follower starts at what the files hold and goes on across each
// rotation to the last line, missing none.
func TestDockerLogsFollowRotation(t *testing.T) {
	d := startDockerd(t)
	script := "i=1; while [ $i -le 100 ]; do echo burst $i; i=$((i+1)); done; sleep 3; " +
		"i=1; while [ $i -le 60 ]; do echo slow $i; i=$((i+1)); sleep 0.05; done"
	d.mustDocker("run", "-d", "--name", "fol", "--log-driver", "json-file", "--log-opt", "max-size=1k", "--log-opt", "max-file=2",
		"busybox", "sh", "-c", script)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.mustDocker("logs", "--tail", "1", "fol"), "burst 100\n") {
		if time.Now().After(deadline) {
			t.Fatal("the burst never ended")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd := exec.Command(dockerCLI, "logs", "-f", "fol")
	cmd.Env = d.env()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		out, err = cmd.Output()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("docker logs -f did not end with the container")
	}
	if err != nil {
		t.Fatalf("docker logs -f: %v", err)
	}
	got := string(out)
	if strings.Contains(got, "burst 1\n") || !strings.Contains(got, "burst 100\n") {
		t.Errorf("docker logs -f began with what rotation dropped (burst 1), or without the last burst line:\n%s", got)
	}
	var slow strings.Builder
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&slow, "slow %d\n", i)
	}
	if !strings.HasSuffix(got, "burst 100\n"+slow.String()) {
		t.Errorf("docker logs -f across rotations:\n%s\nwant it to end with burst 100 and slow 1..60, none missing", got)
	}
}

// TestDockerLogsSyslogCache checks docker logs of a syslog container as
// dockerd 20.10 answers it: read from the dual-logging cache, refused
// with dockerd's 501 when cache-disabled=true.
func TestDockerLogsSyslogCache(t *testing.T) {
	d := startDockerd(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	addr := "syslog-address=udp://" + pc.LocalAddr().String()
	d.mustDocker("run", "--name", "sc", "--log-driver", "syslog", "--log-opt", addr, "busybox", "echo", "cached")
	if out := d.mustDocker("logs", "sc"); out != "cached\n" {
		t.Errorf("docker logs of a syslog container: %q, want the cache's %q", out, "cached\n")
	}
	d.mustDocker("run", "--name", "snc", "--log-driver", "syslog", "--log-opt", addr, "--log-opt", "cache-disabled=true", "busybox", "echo", "hi")
	_, errOut, code := d.docker("logs", "snc")
	if code == 0 || !strings.Contains(errOut, "configured logging driver does not support reading") {
		t.Errorf("docker logs of a syslog container with cache-disabled: exit %d, %q; want dockerd's refusal", code, errOut)
	}
	if status, body := d.call("GET", "/v1.50/containers/snc/logs?stdout=1", ""); status != 501 {
		t.Errorf("GET logs of snc: %d %s, want 501", status, body)
	}
	if _, errOut, code := d.docker("create", "--log-opt", "cache-disabled=maybe", "busybox"); code == 0 || !strings.Contains(errOut, "invalid value for option cache-disabled: maybe") {
		t.Errorf("cache-disabled=maybe: exit %d, %q; want dockerd's refusal", code, errOut)
	}
}

// TestDockerOutputLogCapped runs a json-file container with max-size=1k
// writing 40 MiB: the driver keeps its 2 x 1k, and the daemon's own log
// of the output (the tree's log file) is capped too, rotated at 32 MiB
// with one part kept, rather than growing with what the client writes.
func TestDockerOutputLogCapped(t *testing.T) {
	d := startDockerd(t)
	const written = 40 << 20
	id := strings.TrimSpace(d.mustDocker("run", "-d", "--log-driver", "json-file", "--log-opt", "max-size=1k", "--log-opt", "max-file=2",
		"busybox", "sh", "-c", fmt.Sprintf("yes $(printf %%0999d 0) | head -c %d; echo; echo last", written)))
	if out := d.mustDocker("wait", id); out != "0\n" {
		t.Fatalf("docker wait: %q", out)
	}
	dir := filepath.Dir(strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.LogPath}}", id)))
	var total int64
	for _, name := range []string{"log", "log.1"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("the daemon's log: %v (want a part rotated away at 32 MiB)", err)
			continue
		}
		if fi.Size() > 32<<20 {
			t.Errorf("the daemon's log: %s holds %d bytes, over the cap of 32 MiB", name, fi.Size())
		}
		total += fi.Size()
	}
	if total > 64<<20 {
		t.Errorf("the daemon's log of %d bytes of output holds %d bytes on disk, over 2 x 32 MiB", written, total)
	}
	if out := d.mustDocker("logs", "--tail", "1", id); out != "last\n" {
		t.Errorf("docker logs --tail 1: %q", out)
	}
	if out, _, err := d.trySh("tail -c 5 " + d.mnt + "/containers/" + id + "/log"); err != nil || out != "last\n" {
		t.Errorf("the tree's log file ends with %q (%v), want the last line", out, err)
	}
}
