package dockerapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
)

// createOf is the create verb of req, checked to go through its line
// to the tree's grammar unchanged.
func createOf(t *testing.T, name string, req container.CreateRequest) verbs.Create {
	t.Helper()
	c, err := createVerb(name, req)
	if err != nil {
		t.Fatal(err)
	}
	line := verbs.Line(c)
	back, err := verbs.Containers.Parse(line)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("the line %q parses as %+v, %v; want %+v", line, back, err, c)
	}
	return c
}

func TestCreateVerb(t *testing.T) {
	pids, stop := int64(50), 3
	req := container.CreateRequest{
		Config: &container.Config{
			Image: "busybox", Cmd: []string{"sh", "-c", "echo 'a b'"}, Env: []string{"A=1 2"},
			Entrypoint: []string{"/bin/env", "-i"}, WorkingDir: "/tmp", User: "app", Tty: true, OpenStdin: true,
			StdinOnce: true, StopTimeout: &stop, Labels: map[string]string{"z": "last", "com.x": "a=b"},
		},
		HostConfig: &container.HostConfig{
			AutoRemove: true, ConsoleSize: [2]uint{30, 100}, CapAdd: []string{"NET_ADMIN"},
			RestartPolicy: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3},
			Resources: container.Resources{Memory: 64 << 20, NanoCPUs: 1500000000, PidsLimit: &pids,
				Ulimits: []*container.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}}},
		},
	}
	got := createOf(t, "/web", req)
	want := verbs.Create{
		Image: "busybox", Name: "web", Env: []string{"A=1 2"}, Entrypoint: []string{"/bin/env", "-i"},
		Workdir: "/tmp", User: "app", Tty: true, Stdin: true, StdinOnce: true, StopTimeout: "3", Rm: true,
		ConsoleSize: "30x100", CapAdd: []string{"NET_ADMIN"}, Restart: "on-failure:3", Memory: "67108864", CPUs: "1.5",
		PidsLimit: "50", Ulimit: []string{"nofile=10:20"}, Label: []string{"com.x=a=b", "z=last"},
		Cmd: []string{"sh", "-c", "echo 'a b'"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("createVerb\n got %+v\nwant %+v", got, want)
	}
	// Clearing the entrypoint, and the defaults that say nothing.
	for _, ep := range [][]string{{}, {""}} {
		c := createOf(t, "", container.CreateRequest{Config: &container.Config{Image: "busybox", Entrypoint: ep},
			HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "no"}}})
		if line := verbs.Line(c); line != "create image=busybox entrypoint=''" {
			t.Errorf("entrypoint %q: line %q", ep, line)
		}
	}
	if _, err := createVerb("", container.CreateRequest{Config: &container.Config{}}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("no image: %v", err)
	}
}

func TestCreateVerbNetworkingAndStorage(t *testing.T) {
	req := container.CreateRequest{
		Config: &container.Config{Image: "busybox", ExposedPorts: nat.PortSet{"80/tcp": {}, "53/udp": {}},
			Volumes: map[string]struct{}{"/anon": {}, "/data": {}}},
		HostConfig: &container.HostConfig{
			NetworkMode: "app",
			PortBindings: nat.PortMap{"80/tcp": {{HostIP: "127.0.0.1", HostPort: "8080"}, {HostPort: "8081"}},
				"90/tcp": {{HostIP: "127.0.0.1"}}},
			PublishAllPorts: true,
			Binds:           []string{"data:/data", "/srv:/srv:ro"},
			Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: "v,1", Target: "/m", ReadOnly: true,
				VolumeOptions: &mount.VolumeOptions{NoCopy: true}}},
			Tmpfs:       map[string]string{"/t": "size=64m", "/u": ""},
			VolumesFrom: []string{"other:ro"}, VolumeDriver: "local",
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			"app":   {Aliases: []string{"www", "web"}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: "10.9.0.5"}},
			"other": {Aliases: []string{"o"}},
		}},
	}
	got := createOf(t, "", req)
	want := verbs.Create{
		Image: "busybox", Network: "app", IP: "10.9.0.5", Alias: []string{"www", "web"}, Expose: []string{"53/udp"},
		Publish:     []string{"127.0.0.1:8080:80/tcp", "8081:80/tcp", "127.0.0.1::90/tcp"},
		PublishAll:  true,
		Volume:      []string{"data:/data", "/srv:/srv:ro", "/anon"},
		Mount:       []string{`type=volume,dst=/m,"src=v,1",readonly,volume-nocopy`},
		Tmpfs:       []string{"/t:size=64m", "/u"},
		VolumesFrom: []string{"other:ro"}, VolumeDriver: "local",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("createVerb\n got %+v\nwant %+v", got, want)
	}
	if eps := extraEndpoints(req); len(eps) != 1 || eps[0].network != "other" {
		t.Errorf("extra endpoints %+v", eps)
	}
	// A default network mode with one endpoint joins that network.
	c := createOf(t, "", container.CreateRequest{Config: &container.Config{Image: "busybox"},
		HostConfig:       &container.HostConfig{NetworkMode: "default"},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"net1": {Aliases: []string{"a"}}}}})
	if line := verbs.Line(c); line != "create image=busybox network=net1 alias=a" {
		t.Errorf("line %q", line)
	}
	// Legacy links: link= (the engine takes them on the default bridge).
	c = createOf(t, "", container.CreateRequest{Config: &container.Config{Image: "busybox"},
		HostConfig: &container.HostConfig{Links: []string{"db:d", "web:web"}}})
	if line := verbs.Line(c); line != "create image=busybox link=db:d link=web:web" {
		t.Errorf("links: line %q", line)
	}
	for name, bad := range map[string]container.CreateRequest{
		"links on a user-defined network": {Config: &container.Config{Image: "busybox"}, HostConfig: &container.HostConfig{NetworkMode: "n"},
			NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"n": {Links: []string{"a:b"}}}}},
		"npipe": {Config: &container.Config{Image: "busybox"}, HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeNamedPipe, Target: "/x"}}}},
		"ipv6": {Config: &container.Config{Image: "busybox"}, HostConfig: &container.HostConfig{NetworkMode: "n"},
			NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"n": {IPAMConfig: &network.EndpointIPAMConfig{IPv6Address: "::5"}}}}},
	} {
		if _, err := createVerb("", bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}

func TestParseTop(t *testing.T) {
	top := parseTop("UID   PID  PPID  C  STIME  TTY  TIME      CMD\n" +
		"root  12   1     0  10:00  ?    00:00:00  sh -c while true; do sleep 1; done\n" +
		"root  13   12    0  10:00  ?    00:00:00  sleep 1\n")
	if len(top.Titles) != 8 || len(top.Processes) != 2 {
		t.Fatalf("%+v", top)
	}
	if got := top.Processes[0][7]; got != "sh -c while true; do sleep 1; done" {
		t.Errorf("CMD %q", got)
	}
	if got := top.Processes[1][1]; got != "13" {
		t.Errorf("PID %q", got)
	}
}

func frame(kind byte, p string) []byte {
	b := make([]byte, 8, 8+len(p))
	b[0] = kind
	binary.BigEndian.PutUint32(b[4:], uint32(len(p)))
	return append(b, p...)
}

func TestDeframer(t *testing.T) {
	all := append(frame(1, "hello "), frame(2, "world")...)
	for cut := 0; cut <= len(all); cut++ {
		var d deframer
		got := append(d.feed(all[:cut]), d.feed(all[cut:])...)
		if string(got) != "hello world" {
			t.Errorf("cut at %d: %q", cut, got)
		}
	}
	var kinds []byte
	if err := eachFrame(all, func(k byte, _ []byte) error { kinds = append(kinds, k); return nil }); err != nil || !bytes.Equal(kinds, []byte{1, 2}) {
		t.Errorf("eachFrame: %v %v", kinds, err)
	}
}

func TestExecID(t *testing.T) {
	cid := strings.Repeat("ab", 32)
	id := execID(cid, "7")
	if len(id) != 64 || !strings.HasPrefix(id, cid[:56]) || !strings.HasSuffix(id, "00000007") {
		t.Errorf("execID = %q", id)
	}
}

func TestImageNames(t *testing.T) {
	for in, want := range map[string]string{
		"busybox": "busybox:latest", "docker.io/library/busybox:1": "busybox:1",
		"127.0.0.1:5000/x/y": "127.0.0.1:5000/x/y:latest", "localhost/busybox:latest": "localhost/busybox:latest",
		"busybox@sha256:abcd": "busybox@sha256:abcd",
	} {
		if got := familiar(in); got != want {
			t.Errorf("familiar(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"busybox|latest": "busybox:latest", "127.0.0.1:5000/x|v1": "127.0.0.1:5000/x:v1",
		"busybox:1|latest": "busybox:1", "busybox|sha256:ab": "busybox@sha256:ab",
	} {
		repo, tag, _ := strings.Cut(in, "|")
		if got := withTag(repo, tag); got != want {
			t.Errorf("withTag(%q, %q) = %q, want %q", repo, tag, got, want)
		}
	}
	out, space := deleteReport("Untagged: a:latest\nDeleted: sha256:1234\nTotal reclaimed space: 2MB")
	if len(out) != 2 || out[0].Untagged != "a:latest" || out[1].Deleted != "sha256:1234" || space != 2000000 {
		t.Errorf("deleteReport: %+v, %d", out, space)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 500000000),
		"1700000000.000000001": time.Unix(1700000000, 1),
		"2023-11-14T22:13:20Z": time.Unix(1700000000, 0),
	} {
		if got, err := parseTime(in); err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"yesterday", "1.2.3", "17x"} {
		if _, err := parseTime(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("parseTime(%q): %v", bad, err)
		}
	}
}

func TestStatusOf(t *testing.T) {
	for err, want := range map[error]int{
		errdefs.NotFound("x"): 404, errdefs.AlreadyExists("x"): 409, errdefs.Busy("x"): 409,
		errdefs.Invalid("x"): 400, errdefs.New(errdefs.ErrPermission, "x"): 403, errdefs.Unavailable("x"): 503,
		fmt.Errorf("wrapped: %w", errdefs.NotFound("x")): 404, errNotModified: 304, errors.New("x"): 500,
		context.Canceled: 408,
	} {
		if got := statusOf(err); got != want {
			t.Errorf("statusOf(%v) = %d, want %d", err, got, want)
		}
	}
}

// TestNegotiation checks the version prefix and the ping headers; neither
// reaches the tree.
func TestNegotiation(t *testing.T) {
	h := New(nil).Handler()
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"HEAD", "/_ping", 200, ""},
		{"GET", "/_ping", 200, "OK"},
		{"GET", "/v1.41/_ping", 200, "OK"},
		{"GET", "/v1.50/_ping", 200, "OK"},
		{"GET", "/v1.24/_ping", 400, `{"message":"client version 1.24 is too old. Minimum supported API version is 1.41, please upgrade your client to a newer version"}` + "\n"},
		{"GET", "/v1.52/_ping", 400, `{"message":"client version 1.52 is too new. Maximum supported API version is 1.50"}` + "\n"},
		{"GET", "/v1.50/nosuch", 404, `{"message":"page not found"}` + "\n"},
		{"PUT", "/_ping", 404, `{"message":"page not found"}` + "\n"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || rec.Body.String() != c.body {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, rec.Code, rec.Body.String(), c.status, c.body)
		}
		for k, v := range map[string]string{"Api-Version": "1.50", "Ostype": "linux", "Docker-Experimental": "false"} {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s %s: header %s %q, want %q", c.method, c.path, k, got, v)
			}
		}
	}
	if v := compareVersions("1.9", "1.41"); v != -1 {
		t.Errorf("1.9 vs 1.41: %d", v)
	}
}
