//go:build linux

package tests

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The REST bridge's request bodies: a JSON body over its endpoint's cap
// is refused with 413 before it is read into memory, while what fits (a
// create with many labels) and the streams (an image archive) go through
// without the daemon's memory growing with the body.

// bodyRSSMargin is how far the daemon's peak RSS may rise over its
// baseline while it refuses five 200 MB bodies or loads a 200 MB archive.
const bodyRSSMargin = 100 << 20

// peakRSS is VmHWM of /proc/<pid>/status, in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// filler reads n bytes of the byte c without holding them.
type filler struct {
	c byte
	n int64
}

func (f *filler) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	for i := range p {
		p[i] = f.c
	}
	f.n -= int64(len(p))
	return len(p), nil
}

// hugeCreateBody is a valid create request of size bytes: busybox, and a
// field the API ignores holding the rest.
func hugeCreateBody(size int64) io.Reader {
	head, tail := `{"Image":"busybox","Junk":"`, `"}`
	return io.MultiReader(strings.NewReader(head), &filler{c: 'a', n: size - int64(len(head)+len(tail))}, strings.NewReader(tail))
}

func TestDockerAPIBodyCaps(t *testing.T) {
	d := startDockerd(t)
	pid := d.cmd.Process.Pid
	if code, body := d.call("GET", "/containers/json?all=1", ""); code != http.StatusOK {
		t.Fatalf("GET /containers/json: %d %s", code, body)
	}
	base := peakRSS(t, pid)

	// Five concurrent 200 MB bodies, the odd ones chunked (no length the
	// daemon could refuse up front).
	const size = 200 << 20
	type answer struct {
		code    int
		message string
		took    time.Duration
		err     error
	}
	answers := make([]answer, 5)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest("POST", "http://docker/v1.50/containers/create", hugeCreateBody(size))
			if err != nil {
				answers[i].err = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			if i%2 == 0 {
				req.ContentLength = size
			}
			start := time.Now()
			resp, err := d.http().Do(req)
			if err != nil {
				answers[i].err = err
				return
			}
			defer resp.Body.Close()
			var m struct{ Message string }
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			_ = json.Unmarshal(data, &m)
			answers[i] = answer{code: resp.StatusCode, message: m.Message, took: time.Since(start)}
		}()
	}
	wg.Wait()
	peak := peakRSS(t, pid)
	t.Logf("five 200 MB creates: peak RSS %d MB, baseline %d MB, +%d MB", peak>>20, base>>20, (peak-base)>>20)
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("create %d: %v", i, a.err)
		case a.code != http.StatusRequestEntityTooLarge || !strings.Contains(a.message, "MaxCreateBody"):
			t.Errorf("create %d: %d %q, want 413 naming the cap MaxCreateBody", i, a.code, a.message)
		case a.took > 5*time.Second:
			t.Errorf("create %d: answered after %v, want at once", i, a.took)
		}
	}
	if peak-base > bodyRSSMargin {
		t.Errorf("the daemon's peak RSS rose by %d MB refusing five 200 MB bodies (at most %d MB)", (peak-base)>>20, bodyRSSMargin>>20)
	}
	for _, n := range strings.Fields(d.sh("ls containers")) {
		if len(n) == 64 {
			t.Errorf("a refused create left the container %s", n[:12])
		}
	}

	// A 300 KiB create with 3,000 labels is well under the cap.
	labels := map[string]string{}
	for i := range 3000 {
		labels[fmt.Sprintf("com.example.label-%04d", i)] = strings.Repeat("v", 80)
	}
	body, _ := json.Marshal(map[string]any{"Image": "busybox", "Cmd": []string{"true"}, "Labels": labels})
	if len(body) < 300<<10 {
		t.Fatalf("the labelled body is %d bytes, want 300 KiB", len(body))
	}
	code, resp := d.call("POST", "/v1.50/containers/create?name=labelled", string(body))
	if code != http.StatusCreated {
		t.Fatalf("a %d KiB create: %d %s", len(body)>>10, code, resp)
	}
	code, resp = d.call("GET", "/v1.50/containers/labelled/json", "")
	var inspect struct {
		Config struct{ Labels map[string]string }
	}
	if err := json.Unmarshal(resp, &inspect); code != http.StatusOK || err != nil || len(inspect.Config.Labels) < 3000 {
		t.Errorf("inspect of the labelled container: %d, %d labels, %v", code, len(inspect.Config.Labels), err)
	}

	// A malformed body is docker's 400, and the daemon goes on.
	code, resp = d.call("POST", "/v1.50/containers/create", `{"Image": "busybox", "Cmd": [}`)
	if code != http.StatusBadRequest || !strings.Contains(string(resp), "invalid JSON") {
		t.Errorf("a malformed create: %d %s, want 400 invalid JSON", code, resp)
	}

	// Each refusal is logged once, with the client.
	d.stop()
	var tooLarge, malformed int
	for _, l := range strings.Split(d.out.String(), "\n") {
		if strings.Contains(l, "refused request body from unix uid=0 pid=") {
			switch {
			case strings.Contains(l, "MaxCreateBody"):
				tooLarge++
			case strings.Contains(l, "invalid JSON"):
				malformed++
			}
		}
	}
	if tooLarge != 5 || malformed != 1 {
		t.Errorf("the daemon logged %d refusals of large bodies and %d of malformed ones, want 5 and 1:\n%s", tooLarge, malformed, d.out)
	}
}

// bigArchive writes a docker-save archive tagged big:latest whose one
// layer holds a file of size bytes, streamed, and returns the layer's
// digest by a first pass.
func bigArchive(w io.Writer, size int64) error {
	layer := func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := io.Copy(tw, &filler{c: 'z', n: size}); err != nil {
			return err
		}
		return tw.Close()
	}
	h, n := sha256.New(), &countWriter{}
	if err := layer(io.MultiWriter(h, n)); err != nil {
		return err
	}
	diff := "sha256:" + hex.EncodeToString(h.Sum(nil))
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["` + diff + `"]}}`)
	sum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(sum[:]) + ".json"
	manifest := []byte(`[{"Config":"` + cfgName + `","RepoTags":["big:latest"],"Layers":["big/layer.tar"]}]`)
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: "big/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "big/layer.tar", Mode: 0o644, Size: n.n, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if err := layer(tw); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{cfgName, cfg}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func TestDockerAPILoadStreams(t *testing.T) {
	d := startDockerd(t)
	pid := d.cmd.Process.Pid
	if code, body := d.call("GET", "/images/json", ""); code != http.StatusOK {
		t.Fatalf("GET /images/json: %d %s", code, body)
	}
	base := peakRSS(t, pid)
	const size = 200 << 20
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(bigArchive(pw, size)) }()
	req, err := http.NewRequest("POST", "http://docker/v1.50/images/load?quiet=1", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-tar")
	client := d.http()
	client.Timeout = 5 * time.Minute
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(data, []byte("big:latest")) {
		t.Fatalf("POST /images/load: %d %s", resp.StatusCode, data)
	}
	peak := peakRSS(t, pid)
	t.Logf("a 200 MB load: peak RSS %d MB, baseline %d MB, +%d MB", peak>>20, base>>20, (peak-base)>>20)
	if peak-base > bodyRSSMargin {
		t.Errorf("the daemon's peak RSS rose by %d MB loading a 200 MB archive (at most %d MB)", (peak-base)>>20, bodyRSSMargin>>20)
	}
	code, body := d.call("GET", "/v1.50/images/big:latest/json", "")
	if code != http.StatusOK {
		t.Errorf("the loaded image: %d %s", code, body)
	}
}
