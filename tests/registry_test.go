//go:build linux

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/enginefs/enginefs/internal/testenv"
	"github.com/enginefs/enginefs/tests/fixture"
)

// dctlIn runs dctl with stdin.
func (d *daemon) dctlIn(stdin string, args ...string) (string, string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.dctl, append([]string{"-H", d.sock}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	return runCmd(d.t, cmd)
}

// manifestDigest is the digest of an image's stored manifest, from the tree.
func (d *daemon) manifestDigest(tagDir string) string {
	d.t.Helper()
	return "sha256:" + strings.Fields(d.sh("sha256sum < images/" + tagDir + "/manifest"))[0]
}

// skopeo runs skopeo, skipping the test when it is not installed.
func skopeo(t *testing.T, args ...string) string {
	t.Helper()
	testenv.NeedBinary(t, "skopeo", "skopeo")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "skopeo", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// TestRegistry pushes and pulls through Debian's docker-registry (plain,
// with htpasswd auth, and with TLS from a test CA), streams pull progress
// through the tree, and pulls from the engine's own registry endpoint with
// another engine and with skopeo.
func TestRegistry(t *testing.T) {
	plain := startRegistry(t, registryMode{})
	auth := startRegistry(t, registryMode{auth: true})
	secure := startRegistry(t, registryMode{tls: true})
	served := freeAddr(t)
	d1 := startDaemon(t, "--registry-addr", served, "--registry-ca", secure.ca)
	d2 := startDaemon(t)
	d2.mustDctl("rmi", "busybox") // d2 starts empty
	busyboxDigest := d1.manifestDigest("busybox/latest")
	bb := plain.host + "/bb:v1"

	t.Run("push then pull", func(t *testing.T) {
		d1.mustDctl("tag", "busybox", bb)
		out := d1.mustDctl("push", bb)
		mustContain(t, "push output", out, "The push refers to repository ["+plain.host+"/bb]", "Pushed", "v1: digest: "+busyboxDigest)
		out = d2.mustDctl("pull", bb)
		mustContain(t, "pull output", out, "v1: Pulling from bb", "Pull complete", "Digest: "+busyboxDigest,
			"Status: Downloaded newer image for "+bb, "\n"+bb+"\n")
		if got := d2.mustDctl("run", "--rm", bb, "cat", "/etc/enginefs-fixture"); !strings.Contains(got, "enginefs busybox fixture") {
			t.Errorf("the pulled image runs %q", got)
		}
		out = d2.mustDctl("pull", bb)
		mustContain(t, "second pull", out, "Status: Image is up to date for "+bb)
		if strings.Contains(out, "Pull complete") {
			t.Errorf("a second pull downloaded again:\n%s", out)
		}
		mustContain(t, "images --digests", d2.mustDctl("images", "--digests"), plain.host+"/bb", "v1", busyboxDigest)
		var insp []map[string]any
		if err := json.Unmarshal([]byte(d2.mustDctl("image", "inspect", bb)), &insp); err != nil || len(insp) != 1 {
			t.Fatalf("image inspect: %v", err)
		}
		if rd, _ := insp[0]["RepoDigests"].([]any); len(rd) != 1 || rd[0] != plain.host+"/bb@"+busyboxDigest {
			t.Errorf("RepoDigests %v", insp[0]["RepoDigests"])
		}
		mustContain(t, "history", d2.mustDctl("history", bb), "IMAGE", "CREATED BY", "enginefs fixture: busybox and its applets", "<missing>")
		id := strings.TrimSpace(d2.sh("cat images/" + plain.host + "/bb/v1/id"))
		if layers := d2.sh("cat images/by-id/" + strings.TrimPrefix(id, "sha256:") + "/layers"); len(strings.Split(strings.TrimSpace(layers), "\n")) != 2 {
			t.Errorf("layers file:\n%s", layers)
		}
	})

	t.Run("progress streams from the tree while the pull runs", func(t *testing.T) {
		d2.mustDctl("rmi", bb)
		prog := filepath.Join(t.TempDir(), "progress")
		// The reader opens the progress file before the pull starts and
		// ends by itself when the pull ends.
		status := d2.sh(`exec 3<>images/pulls/clone; read n <&3
			cat images/pulls/$n/progress > ` + prog + ` & reader=$!
			echo "pull ` + bb + `" >&3
			wait $reader; cat images/pulls/$n/status`)
		if !strings.HasPrefix(status, "done "+bb+" digest="+busyboxDigest) {
			t.Errorf("status = %q", status)
		}
		b, _ := os.ReadFile(prog)
		var sawBytes, sawFinal bool
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m struct {
				Status   string `json:"status"`
				ID       string `json:"id"`
				Progress *struct {
					Current int64 `json:"current"`
					Total   int64 `json:"total"`
				} `json:"progressDetail"`
			}
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("progress line %q: %v", l, err)
			}
			sawBytes = sawBytes || (m.Status == "Downloading" && m.Progress != nil && m.Progress.Total > 0 && m.ID != "")
			sawFinal = sawFinal || m.Status == "Status: Downloaded newer image for "+bb
		}
		if !sawBytes || !sawFinal {
			t.Errorf("progress lacks byte counts (%v) or the final status (%v):\n%s", sawBytes, sawFinal, b)
		}
		_, errOut, err := d2.trySh("echo 'pull " + plain.host + "/bb:nosuch' > images/ctl")
		if err == nil || !strings.Contains(errOut, "No such file") {
			t.Errorf("pull of an unknown tag: %v %q", err, errOut)
		}
		mustContain(t, "images/err", d2.sh("cat images/err"), "bb:nosuch", "manifest unknown")
		n := strings.Fields(d2.sh("ls images/pulls"))
		last := n[len(n)-2] // clone sorts last
		mustContain(t, "the failed job's progress", d2.sh("cat images/pulls/"+last+"/progress"), `"errorDetail"`)
	})

	t.Run("run pulls a missing image", func(t *testing.T) {
		other := plain.host + "/other:v2"
		d1.mustDctl("tag", "busybox", other)
		d1.mustDctl("push", other)
		out, errOut, code := d2.dctl("run", "--rm", other, "echo", "hi")
		if code != 0 || out != "hi\n" {
			t.Fatalf("run: exit %d, %q, %q", code, out, errOut)
		}
		mustContain(t, "run's stderr", errOut, "Unable to find image '"+other+"' locally", "Status: Downloaded newer image for "+other)
	})

	t.Run("a corrupt blob is refused and leaves nothing", func(t *testing.T) {
		img, err := random.Image(64<<10, 2)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(plain.host + "/rand:v1")
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		layers, _ := img.Layers()
		bad, _ := layers[1].Digest()
		plain.corruptBlob(t, bad.String())
		_, errOut, code := d2.dctl("pull", ref.String())
		if code == 0 || !strings.Contains(errOut, "verifying sha256") {
			t.Errorf("pull of a corrupt image: exit %d, %q", code, errOut)
		}
		if strings.Contains(d2.mustDctl("images"), "rand") {
			t.Error("the corrupt image is listed")
		}
		if ents, _ := os.ReadDir(filepath.Join(d2.state, "images", "tmp")); len(ents) != 0 {
			t.Errorf("tmp holds %d entries after the failed pull", len(ents))
		}
		if _, err := os.Stat(filepath.Join(d2.state, "images/blobs/sha256", bad.Hex)); err == nil {
			t.Error("the corrupt blob was stored")
		}
	})

	t.Run("basic auth, login and logout", func(t *testing.T) {
		priv := auth.host + "/priv:v1"
		d1.mustDctl("tag", "busybox", priv)
		if _, errOut, code := d1.dctl("push", priv); code == 0 || !strings.Contains(strings.ToLower(errOut), "unauthorized") {
			t.Errorf("push without login: exit %d, %q", code, errOut)
		}
		if _, errOut, code := d1.dctlIn("wrong\n", "login", "-u", auth.user, "--password-stdin", auth.host); code == 0 {
			t.Errorf("login with a wrong password succeeded: %q", errOut)
		}
		if out, errOut, code := d1.dctlIn(auth.pass+"\n", "login", "-u", auth.user, "--password-stdin", auth.host); code != 0 || out != "Login Succeeded\n" {
			t.Fatalf("login: exit %d, %q, %q", code, out, errOut)
		}
		cfg, err := os.ReadFile(filepath.Join(d1.state, "auth", "config.json"))
		if err != nil || !strings.Contains(string(cfg), `"`+auth.host+`"`) || !strings.Contains(string(cfg), `"auth"`) {
			t.Errorf("config.json = %s, %v", cfg, err)
		}
		mustContain(t, "push after login", d1.mustDctl("push", priv), "v1: digest: "+busyboxDigest)
		if _, errOut, code := d2.dctl("pull", priv); code == 0 {
			t.Errorf("pull without credentials succeeded: %q", errOut)
		}
		if out := d1.mustDctl("logout", auth.host); out != "Removing login credentials for "+auth.host+"\n" {
			t.Errorf("logout printed %q", out)
		}
		if _, _, code := d1.dctl("push", priv); code == 0 {
			t.Error("push after logout succeeded")
		}
	})

	t.Run("TLS with a test CA", func(t *testing.T) {
		sec := secure.host + "/sec:v1"
		d1.mustDctl("tag", "busybox", sec)
		mustContain(t, "push over TLS", d1.mustDctl("push", sec), "v1: digest: "+busyboxDigest)
		if _, errOut, code := d2.dctl("pull", sec); code == 0 || !strings.Contains(errOut, "certificate") {
			t.Errorf("pull without the CA: exit %d, %q", code, errOut)
		}
	})

	t.Run("the engine's own registry", func(t *testing.T) {
		ref := served + "/busybox:latest"
		mustContain(t, "pull from the engine", d2.mustDctl("pull", ref), "Digest: "+busyboxDigest)
		if out := d2.mustDctl("run", "--rm", ref, "echo", "from d1"); out != "from d1\n" {
			t.Errorf("run = %q", out)
		}
		dir := filepath.Join(t.TempDir(), "copy")
		skopeo(t, "copy", "--src-tls-verify=false", "docker://"+ref, "dir:"+dir)
		m, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		d1m, _ := os.ReadFile(filepath.Join(d1.mnt, "images/busybox/latest/manifest"))
		if !bytes.Equal(m, d1m) {
			t.Errorf("skopeo copied manifest %s, the engine has %s", m, d1m)
		}
		mustContain(t, "skopeo inspect", skopeo(t, "inspect", "--tls-verify=false", "docker://"+ref), busyboxDigest)
	})

	t.Run("save and load, docker and OCI", func(t *testing.T) {
		dir := t.TempDir()
		both, one := filepath.Join(dir, "both.tar"), filepath.Join(dir, "one.tar")
		d1.mustDctl("save", "-o", both, "busybox", bb)
		d1.mustDctl("save", "-o", one, "busybox")
		mustContain(t, "skopeo docker-archive", skopeo(t, "inspect", "docker-archive:"+both+":busybox:latest"), `"Layers"`)
		mustContain(t, "skopeo oci-archive", skopeo(t, "inspect", "oci-archive:"+one), `"Layers"`)
		d2.mustDctl("rmi", "-f", bb)
		out := d2.mustDctl("load", "-i", both)
		mustContain(t, "load", out, "Loaded image: busybox:latest", "Loaded image: "+bb)
		if got := d2.manifestDigest(plain.host + "/bb/v1"); got != busyboxDigest {
			t.Errorf("loaded manifest digest %s, want %s", got, busyboxDigest)
		}
	})

	t.Run("rmi and prune", func(t *testing.T) {
		out := d2.mustDctl("rmi", "busybox")
		mustContain(t, "rmi", out, "Untagged: busybox:latest")
		d2.mustDctl("run", "--name", "keep", served+"/busybox:latest", "true")
		id := strings.TrimSpace(d2.sh("cat images/" + served + "/busybox/latest/id"))
		if _, errOut, code := d2.dctl("rmi", id); code == 0 || !strings.Contains(errOut, "image is being used by stopped container") {
			t.Errorf("rmi of an image a container uses: exit %d, %q", code, errOut)
		}
		// Forced, it untags; the container's image stays until it goes.
		mustContain(t, "rmi -f", d2.mustDctl("rmi", "-f", id), "Untagged: "+bb)
		if out := d2.mustDctl("images", "-q"); strings.TrimSpace(out) != strings.TrimPrefix(id, "sha256:")[:12] {
			t.Errorf("images after rmi -f of a used image: %q", out)
		}
		d2.mustDctl("rm", "keep")
		out = d2.mustDctl("image", "prune", "-a", "-f")
		mustContain(t, "prune", out, "Deleted Images:", "deleted: sha256:", "Total reclaimed space:")
		if imgs := d2.mustDctl("images", "-q"); imgs != "" {
			t.Errorf("images after prune -a: %q", imgs)
		}
		if ents, _ := os.ReadDir(filepath.Join(d2.state, "images/layers")); len(ents) != 0 {
			t.Errorf("layers after prune -a: %d", len(ents))
		}
	})
}

// TestRegistryBig pushes the large many-file fixture (the Go toolchain
// tree, about 230 MB in 15,000 files, three layers) into docker-registry
// with skopeo, pulls it with the engine, runs a program from it, and
// pushes it back under another tag (its layers are there already).
func TestRegistryBig(t *testing.T) {
	if testing.Short() {
		t.Skip("the large image takes a while; skipped with -short")
	}
	_, err := os.Stat("/usr/local/go/bin/gofmt")
	testenv.Need(t, "the Go toolchain tree at /usr/local/go", err)
	reg := startRegistry(t, registryMode{})
	layout := filepath.Join(t.TempDir(), "gotree")
	info, err := fixture.GoTree(context.Background(), "/usr/local/go", layout)
	if err != nil {
		t.Fatal(err)
	}
	if info.Files < 10000 || info.Bytes < 200<<20 {
		t.Fatalf("the fixture is too small: %+v", info)
	}
	big := reg.host + "/big:latest"
	skopeo(t, "copy", "--dest-tls-verify=false", "oci:"+layout+":latest", "docker://"+big)
	d := startDaemon(t)
	d.mustDctl("rmi", "busybox") // so the layers directory holds the big image alone
	start := time.Now()
	out := d.mustDctl("pull", big)
	t.Logf("pulled %d files, %d MB (%d MB compressed) in %v", info.Files, info.Bytes>>20, info.Size>>20, time.Since(start))
	mustContain(t, "pull", out, "Digest: "+info.Manifest, "Status: Downloaded newer image for "+big)
	files := 0
	filepath.WalkDir(filepath.Join(d.state, "images", "layers"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			files++
		}
		return nil
	})
	if files != info.Files {
		t.Errorf("the unpacked layers hold %d files, the image %d", files, info.Files)
	}
	if out := d.mustDctl("run", "--rm", big, "/usr/local/go/bin/gofmt", "-l", "/usr/local/go/src/errors"); out != "" {
		t.Errorf("gofmt -l in the image printed %q", out)
	}
	d.mustDctl("tag", big, reg.host+"/big:v2")
	mustContain(t, "push", d.mustDctl("push", reg.host+"/big:v2"), "Layer already exists", "v2: digest: "+info.Manifest)
}
