//go:build linux

package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// TestDockerCLINetworks drives networks and published ports through the
// bridge with the stock docker CLI: network create, ls, inspect, connect,
// disconnect and rm, two containers reaching each other by name, run -p
// fetched from the host, and the network events.
func TestDockerCLINetworks(t *testing.T) {
	d := startDockerd(t)
	since := strconv.FormatInt(time.Now().Unix(), 10)
	subnet := netdrvtest.FreeSubnet(t, 24)
	gateway := subnet.Addr().Next()
	fixed := gateway.Next().Next().Next()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	defer d.docker("rm", "-f", "web", "other")
	defer d.docker("network", "rm", "front", "back")

	id := strings.TrimSpace(d.mustDocker("network", "create", "--subnet", subnet.String(), "--gateway", gateway.String(), "--label", "tier=front", "front"))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("network create printed %q, want an id", id)
	}
	d.mustDocker("network", "create", "back")
	if out := d.mustDocker("network", "ls", "--filter", "label=tier=front", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"); out != "front bridge local\n" {
		t.Errorf("network ls --filter label: %q", out)
	}
	if out := d.mustDocker("network", "ls", "--filter", "type=custom", "--format", "{{.Name}}"); out != "back\nfront\n" {
		t.Errorf("network ls --filter type=custom: %q", out)
	}
	want := fmt.Sprintf("%s %s %s front\n", id, subnet, gateway)
	if out := d.mustDocker("network", "inspect", "-f", "{{.Id}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.tier}}", "front"); out != want {
		t.Errorf("network inspect: %q, want %q", out, want)
	}
	if _, errOut, code := d.docker("network", "create", "front"); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("a second network front: exit %d, %q", code, errOut)
	}

	// web on front, with an alias and a published port; other on back.
	d.mustDocker("run", "-d", "--name", "web", "--network", "front", "--network-alias", "www", "--ip", fixed.String(),
		"-p", "127.0.0.1:"+port+":80", "busybox", "sh", "-c", "mkdir -p /srv; echo web-page > /srv/index.html; exec httpd -f -p 80 -h /srv")
	d.mustDocker("run", "-d", "--name", "other", "--network", "back", "busybox", "sh", "-c", "mkdir -p /srv; echo other-page > /srv/index.html; exec httpd -f -p 8080 -h /srv")
	if out := d.mustDocker("inspect", "-f", "{{.NetworkSettings.Networks.front.IPAddress}} {{.NetworkSettings.Networks.front.Aliases}}", "web"); out != fixed.String()+" [www]\n" {
		t.Errorf("inspect web: %q", out)
	}
	if out := d.mustDocker("run", "--rm", "--network", "front", "busybox", "wget", "-qO-", "http://www/"); out != "web-page\n" {
		t.Errorf("by alias on front: %q", out)
	}
	// Published on 127.0.0.1, fetched from the host.
	var body string
	waitFor(t, func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return true
	})
	if body != "web-page\n" {
		t.Errorf("GET http://127.0.0.1:%s/ from the host: %q", port, body)
	}
	if out := d.mustDocker("port", "web"); out != "80/tcp -> 127.0.0.1:"+port+"\n" {
		t.Errorf("docker port web: %q", out)
	}
	if out := d.mustDocker("ps", "--filter", "name=web", "--format", "{{.Ports}} {{.Networks}}"); out != "127.0.0.1:"+port+"->80/tcp front\n" {
		t.Errorf("ps Ports and Networks: %q", out)
	}

	// other joins front: the two reach each other by name, then not.
	if _, _, code := d.docker("exec", "other", "wget", "-qO-", "http://web/"); code == 0 {
		t.Error("other reached web before joining front")
	}
	d.mustDocker("network", "connect", "--alias", "peer", "front", "other")
	if out := d.mustDocker("exec", "other", "wget", "-qO-", "http://web/"); out != "web-page\n" {
		t.Errorf("other fetched %q from web", out)
	}
	if out := d.mustDocker("exec", "web", "wget", "-qO-", "http://peer:8080/"); out != "other-page\n" {
		t.Errorf("web fetched %q from other's alias", out)
	}
	if out := d.mustDocker("network", "inspect", "-f", "{{len .Containers}}", "front"); out != "2\n" {
		t.Errorf("front's containers: %q", out)
	}
	d.mustDocker("network", "disconnect", "front", "other")
	if _, _, code := d.docker("exec", "other", "wget", "-qO-", "http://web/"); code == 0 {
		t.Error("other still reaches web after the disconnect")
	}
	if _, errOut, code := d.docker("network", "rm", "front"); code == 0 || !strings.Contains(errOut, "containers attached") {
		t.Errorf("rm of a network in use: exit %d, %q", code, errOut)
	}
	if status, _ := d.call("DELETE", "/v1.50/networks/front", ""); status != 409 {
		t.Errorf("DELETE of a network in use: %d, want 409", status)
	}
	if status, _ := d.call("DELETE", "/v1.50/networks/bridge", ""); status != 403 {
		t.Errorf("DELETE of the bridge network: %d, want 403", status)
	}
	d.mustDocker("rm", "-f", "web", "other")
	d.mustDocker("network", "rm", "front", "back")
	if out := d.mustDocker("network", "ls", "--filter", "type=custom", "-q"); out != "" {
		t.Errorf("networks left: %q", out)
	}
	if ents := d.sh("ls networks"); strings.Contains(ents, "front") {
		t.Errorf("the tree still has front:\n%s", ents)
	}
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	out := d.mustDocker("events", "--since", since, "--until", until, "--filter", "type=network", "--filter", "network=front", "--format", "{{.Action}}")
	for _, want := range []string{"create", "connect", "disconnect", "destroy"} {
		if !strings.Contains("\n"+out, "\n"+want+"\n") {
			t.Errorf("no network %s event for front in:\n%s", want, out)
		}
	}
}

// TestDockerCLIVolumes drives volumes and mounts through the bridge with
// the stock docker CLI: volume create, ls, inspect and rm (a volume in use
// is docker's 409), run -v with a named volume and a host directory,
// --mount, --tmpfs, rm -v of anonymous volumes, system df, and the volume
// events.
func TestDockerCLIVolumes(t *testing.T) {
	d := startDockerd(t)
	since := strconv.FormatInt(time.Now().Unix(), 10)
	defer d.docker("rm", "-f", "vuser", "anon")

	if out := d.mustDocker("volume", "create", "--label", "k=v", "vol1"); out != "vol1\n" {
		t.Errorf("volume create: %q", out)
	}
	d.mustDocker("volume", "create", "vol2")
	if out := d.mustDocker("volume", "ls", "--filter", "label=k=v", "-q"); out != "vol1\n" {
		t.Errorf("volume ls --filter label=k=v: %q", out)
	}
	if out := d.mustDocker("volume", "inspect", "-f", "{{.Driver}} {{.Labels.k}} {{.Mountpoint}}", "vol1"); out != "local v "+filepath.Join(d.state, "volumes/vol1/_data")+"\n" {
		t.Errorf("volume inspect: %q", out)
	}
	d.mustDocker("run", "-d", "--name", "vuser", "-v", "vol1:/data", "busybox", "sh", "-c", "echo persisted > /data/f; exec sleep 300")
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(d.mnt, "volumes/vol1/data/f")); return err == nil })
	_, errOut, code := d.docker("volume", "rm", "vol1")
	if code == 0 || !strings.Contains(errOut, "remove vol1: volume is in use - [") {
		t.Errorf("volume rm of a volume in use: exit %d, %q", code, errOut)
	}
	if status, body := d.call("DELETE", "/v1.50/volumes/vol1", ""); status != 409 {
		t.Errorf("DELETE of a volume in use: %d %s, want 409", status, body)
	}
	if out := d.mustDocker("run", "--rm", "-v", "vol1:/d:ro", "busybox", "cat", "/d/f"); out != "persisted\n" {
		t.Errorf("the volume's file from another container: %q", out)
	}
	if _, _, code := d.docker("run", "--rm", "-v", "vol1:/d:ro", "busybox", "touch", "/d/x"); code == 0 {
		t.Error("a write to a volume mounted :ro succeeded")
	}
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "note"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := d.mustDocker("run", "--rm", "-v", host+":/x:ro", "busybox", "cat", "/x/note"); out != "from the host\n" {
		t.Errorf("run -v HOST:/x:ro: %q", out)
	}
	if out := d.mustDocker("run", "--rm", "--mount", "type=volume,src=vol2,dst=/m", "busybox", "sh", "-c", "echo via-mount > /m/g; cat /m/g"); out != "via-mount\n" {
		t.Errorf("run --mount: %q", out)
	}
	if out := d.mustDocker("run", "--rm", "--tmpfs", "/scratch:size=1m", "busybox", "sh", "-c", "grep ' /scratch ' /proc/mounts | cut -d' ' -f3"); out != "tmpfs\n" {
		t.Errorf("run --tmpfs: %q", out)
	}
	// An anonymous volume goes with rm -v.
	d.mustDocker("create", "--name", "anon", "-v", "/anon", "busybox", "true")
	var mounts []struct{ Type, Name, Destination string }
	if err := json.Unmarshal([]byte(d.mustDocker("inspect", "-f", "{{json .Mounts}}", "anon")), &mounts); err != nil || len(mounts) != 1 || mounts[0].Type != "volume" || mounts[0].Destination != "/anon" {
		t.Fatalf("mounts of anon: %+v, %v", mounts, err)
	}
	if out := d.mustDocker("volume", "ls", "-q"); !strings.Contains(out, mounts[0].Name) {
		t.Errorf("the anonymous volume is not listed: %q", out)
	}
	d.mustDocker("rm", "-v", "anon")
	if out := d.mustDocker("volume", "ls", "-q"); strings.Contains(out, mounts[0].Name) {
		t.Errorf("rm -v left the anonymous volume: %q", out)
	}
	out := d.mustDocker("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}}")
	if !regexp.MustCompile(`(?m)^Local Volumes 2 1 \d+B$`).MatchString(out) {
		t.Errorf("system df:\n%s", out)
	}
	d.mustDocker("rm", "-f", "vuser")
	if out := d.mustDocker("volume", "rm", "vol1", "vol2"); out != "vol1\nvol2\n" {
		t.Errorf("volume rm: %q", out)
	}
	if _, errOut, code := d.docker("volume", "inspect", "vol1"); code == 0 || !strings.Contains(errOut, "vol1") {
		t.Errorf("inspect of a removed volume: exit %d, %q", code, errOut)
	}
	if status, _ := d.call("DELETE", "/v1.50/volumes/vol1?force=1", ""); status != 204 {
		t.Errorf("forced DELETE of a missing volume: %d, want 204", status)
	}
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	out = d.mustDocker("events", "--since", since, "--until", until, "--filter", "type=volume", "--filter", "volume=vol1", "--format", "{{.Action}}")
	for _, want := range []string{"create", "mount", "unmount", "destroy"} {
		if !strings.Contains("\n"+out, "\n"+want+"\n") {
			t.Errorf("no volume %s event for vol1 in:\n%s", want, out)
		}
	}
}
