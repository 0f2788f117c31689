//go:build linux

package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestDockerCLIImages drives the bridge's image endpoints with the stock
// docker CLI against Debian's docker-registry: push, pull (and run of a
// missing image), login to an htpasswd registry, tag, rmi, save | load,
// dangling images, prune, and the image events.
func TestDockerCLIImages(t *testing.T) {
	plain := startRegistry(t, registryMode{})
	auth := startRegistry(t, registryMode{auth: true})
	d := startDockerd(t)
	since := strconv.FormatInt(time.Now().Unix(), 10)
	busyboxDigest := d.manifestDigest("busybox/latest")
	bb := plain.host + "/bb:v1"

	t.Run("push, pull, run pulls a missing image", func(t *testing.T) {
		d.mustDocker("tag", "busybox", bb)
		out := d.mustDocker("push", bb)
		mustContain(t, "push", out, "The push refers to repository ["+plain.host+"/bb]", "Pushed", "v1: digest: "+busyboxDigest)
		mustContain(t, "rmi", d.mustDocker("rmi", bb), "Untagged: "+bb)
		out = d.mustDocker("pull", bb)
		mustContain(t, "pull", out, "v1: Pulling from bb", "Digest: "+busyboxDigest, "Status: Downloaded newer image for "+bb, "\n"+bb+"\n")
		if got := d.mustDocker("images", "--format", "{{.Repository}}:{{.Tag}}", plain.host+"/bb"); got != bb+"\n" {
			t.Errorf("images %s: %q", plain.host+"/bb", got)
		}
		if got := d.mustDocker("image", "inspect", "-f", "{{index .RepoDigests 0}}", bb); got != plain.host+"/bb@"+busyboxDigest+"\n" {
			t.Errorf("RepoDigests %q", got)
		}
		// An image the registry does not have: docker's error response
		// before any progress, with the status of its class.
		_, errOut, code := d.docker("pull", plain.host+"/nosuch:v1")
		if code == 0 || !strings.Contains(errOut, "Error response from daemon") || !strings.Contains(errOut, "manifest unknown") {
			t.Errorf("pull of a missing image: exit %d, %q", code, errOut)
		}
		if status, body := d.call("POST", "/v1.50/images/create?fromImage="+plain.host+"/nosuch&tag=v1", ""); status != 404 {
			t.Errorf("POST /images/create of a missing image: %d %s, want 404", status, body)
		}
		// docker run of an image only the registry has: create answers
		// 404, the CLI pulls and creates again.
		other := plain.host + "/other:v2"
		d.mustDocker("tag", "busybox", other)
		d.mustDocker("push", other)
		d.mustDocker("rmi", other)
		out, errOut, code = d.docker("run", "--rm", other, "echo", "pulled and ran")
		if code != 0 || out != "pulled and ran\n" || !strings.Contains(errOut, "Unable to find image '"+other+"' locally") ||
			!strings.Contains(errOut, "Status: Downloaded newer image for "+other) {
			t.Errorf("run of a missing image: exit %d, %q, %q", code, out, errOut)
		}
	})

	t.Run("login to an htpasswd registry, push and pull with its credentials", func(t *testing.T) {
		priv := auth.host + "/priv:v1"
		d.mustDocker("tag", "busybox", priv)
		if _, errOut, code := d.docker("push", priv); code == 0 || !strings.Contains(strings.ToLower(errOut), "unauthorized") {
			t.Errorf("push without login: exit %d, %q", code, errOut)
		}
		_, errOut, code := d.dockerIn("wrong\n", "login", "-u", auth.user, "--password-stdin", auth.host)
		if code == 0 || !strings.Contains(strings.ToLower(errOut), "unauthorized") {
			t.Errorf("login with a wrong password: exit %d, %q", code, errOut)
		}
		if status, body := d.call("POST", "/v1.50/auth", `{"username":"`+auth.user+`","password":"wrong","serveraddress":"`+auth.host+`"}`); status != 401 {
			t.Errorf("POST /auth with a wrong password: %d %s, want 401", status, body)
		}
		out, errOut, code := d.dockerIn(auth.pass+"\n", "login", "-u", auth.user, "--password-stdin", auth.host)
		if code != 0 || !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("login: exit %d, %q, %q", code, out, errOut)
		}
		// The client keeps the credentials; the daemon keeps none.
		cfg, err := os.ReadFile(filepath.Join(d.run, "docker-config", "config.json"))
		if err != nil || !strings.Contains(string(cfg), `"`+auth.host+`"`) {
			t.Errorf("the CLI's config.json = %s, %v", cfg, err)
		}
		if daemonCfg, _ := os.ReadFile(filepath.Join(d.state, "auth", "config.json")); strings.Contains(string(daemonCfg), auth.host) {
			t.Errorf("the daemon saved the credentials of a docker login: %s", daemonCfg)
		}
		mustContain(t, "push with the login's credentials", d.mustDocker("push", priv), "v1: digest: "+busyboxDigest)
		d.mustDocker("rmi", priv)
		mustContain(t, "pull with the login's credentials", d.mustDocker("pull", priv), "Status: Downloaded newer image for "+priv)
		// The credentials went to the jobs only: no status, error or
		// progress of the tree shows them.
		for _, dir := range []string{"pulls", "pushes"} {
			for _, f := range []string{"status", "err", "progress"} {
				if out, _, _ := d.trySh("cat images/" + dir + "/[0-9]*/" + f + " images/err"); strings.Contains(out, auth.pass) {
					t.Errorf("images/%s/*/%s shows the password", dir, f)
				}
			}
		}
		d.mustDocker("logout", auth.host)
		if _, _, code := d.docker("push", priv); code == 0 {
			t.Error("push after logout succeeded")
		}
	})

	t.Run("tag and rmi", func(t *testing.T) {
		d.mustDocker("tag", "busybox", "mine/app:v2")
		if got := d.mustDocker("images", "--format", "{{.Repository}}:{{.Tag}}", "mine/app"); got != "mine/app:v2\n" {
			t.Errorf("images after tag: %q", got)
		}
		id := strings.TrimSpace(d.mustDocker("image", "inspect", "-f", "{{.Id}}", "busybox"))
		if _, errOut, code := d.docker("rmi", id); code == 0 || !strings.Contains(errOut, "Error response from daemon") {
			t.Errorf("rmi by id of an image with several tags: exit %d, %q", code, errOut)
		}
		if status, _ := d.call("DELETE", "/v1.50/images/"+id, ""); status != 409 {
			t.Errorf("DELETE /images/ID of an image with several tags: %d, want 409", status)
		}
		if out := d.mustDocker("rmi", "mine/app:v2"); out != "Untagged: mine/app:v2\n" {
			t.Errorf("rmi mine/app:v2: %q", out)
		}
		if _, errOut, code := d.docker("rmi", "mine/app:v2"); code == 0 || !strings.Contains(errOut, "No such image") {
			t.Errorf("rmi of a missing tag: exit %d, %q", code, errOut)
		}
	})

	t.Run("save | load round trip", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "images.tar")
		d.mustDocker("save", "-o", file, "busybox", bb)
		d.mustDocker("rmi", bb)
		out := d.mustDocker("load", "-i", file)
		mustContain(t, "load -i", out, "Loaded image: busybox:latest", "Loaded image: "+bb)
		if got := d.manifestDigest(plain.host + "/bb/v1"); got != busyboxDigest {
			t.Errorf("loaded manifest digest %s, want %s", got, busyboxDigest)
		}
		// docker save to stdout, docker load from stdin.
		d.mustDocker("tag", "busybox", "roundtrip:v1")
		archive := d.mustDocker("save", "roundtrip:v1")
		d.mustDocker("rmi", "roundtrip:v1")
		if out, errOut, code := d.dockerIn(archive, "load"); code != 0 || out != "Loaded image: roundtrip:v1\n" {
			t.Errorf("docker save | docker load: exit %d, %q, %q", code, out, errOut)
		}
		if out, errOut, code := d.dockerIn("this is no archive", "load"); code == 0 || !strings.Contains(errOut, "archive") {
			t.Errorf("docker load of a broken archive: exit %d, %q, %q", code, out, errOut)
		}
		if _, errOut, code := d.docker("save", "nosuchimage:v9"); code == 0 || !strings.Contains(errOut, "nosuchimage") {
			t.Errorf("docker save of an unknown image: exit %d, %q", code, errOut)
		}
		if ents, _ := os.ReadDir(d.run); len(ents) > 0 {
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), "save-") || strings.HasPrefix(e.Name(), "load-") {
					t.Errorf("the bridge left %s in the run dir", e.Name())
				}
			}
		}
	})

	t.Run("a dangling image: inspect and history by id, images filters, prune", func(t *testing.T) {
		ref := plain.host + "/rand:v1"
		pushRandom := func() {
			img, err := random.Image(32<<10, 1)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := name.ParseReference(ref)
			if err := remote.Write(r, img); err != nil {
				t.Fatal(err)
			}
		}
		pushRandom()
		d.mustDocker("pull", ref)
		old := strings.TrimSpace(d.mustDocker("image", "inspect", "-f", "{{.Id}}", ref))
		pushRandom() // the tag moves: the first image is left without one
		d.mustDocker("pull", ref)
		if got := d.mustDocker("images", "-q", "--no-trunc", "--filter", "dangling=true"); got != old+"\n" {
			t.Errorf("images --filter dangling=true: %q, want %s", got, old)
		}
		if got := d.mustDocker("image", "inspect", "-f", "{{.Id}} {{len .RepoTags}}", old); got != old+" 0\n" {
			t.Errorf("inspect of the untagged image: %q", got)
		}
		if got := d.mustDocker("history", "-q", "--no-trunc", old); !strings.HasPrefix(got, old+"\n") {
			t.Errorf("history of the untagged image: %q", got)
		}
		out := d.mustDocker("image", "prune", "-f")
		mustContain(t, "image prune", out, "deleted: "+old, "Total reclaimed space:")
		if got := d.mustDocker("images", "-q", "--filter", "dangling=true"); got != "" {
			t.Errorf("dangling images after prune: %q", got)
		}
	})

	t.Run("image events", func(t *testing.T) {
		until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
		out := d.mustDocker("events", "--since", since, "--until", until, "--filter", "type=image", "--format", "{{.Action}}")
		for _, want := range []string{"push", "pull", "tag", "untag", "delete", "save", "load"} {
			if !strings.Contains("\n"+out, "\n"+want+"\n") {
				t.Errorf("no image %s event in:\n%s", want, out)
			}
		}
		out = d.mustDocker("events", "--since", since, "--until", until, "--filter", "type=image", "--filter", "event=pull", "--format", "{{json .}}")
		var m struct {
			Type, Action, ID, Status string
			Actor                    struct{ ID string }
		}
		if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &m); err != nil || m.Actor.ID != bb || m.ID != bb || m.Status != "pull" {
			t.Errorf("the first pull event: %+v, %v\n%s", m, err, out)
		}
	})
}
