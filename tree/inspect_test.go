package tree

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/mount"
	networktypes "github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// webRecord is a running container with a bit of everything.
func webRecord() engine.Record {
	stop, pids := 7, int64(9)
	started := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	id := strings.Repeat("ab", 32)
	return engine.Record{
		ID: id, Name: "web", Created: started.Add(-time.Minute), ImageID: "sha256:" + strings.Repeat("1", 64),
		Path: "/docker-entrypoint.sh", Args: []string{"nginx", "-g", "daemon off;"}, RestartCount: 2, Runtime: "runc",
		State: engine.State{Status: engine.StatusRunning, Pid: 42, StartedAt: started},
		Config: engine.Config{
			Image: "nginx:alpine", Cmd: []string{"nginx", "-g", "daemon off;"}, Env: []string{"A=1"}, WorkingDir: "/w",
			User: "app", Tty: true, OpenStdin: true, StopSignal: "SIGQUIT", StopTimeout: &stop, AutoRemove: true,
			RestartPolicy: engine.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, Runtime: "builtin",
			Resources: engine.Resources{Memory: 64 << 20, NanoCPUs: 1500000000, CPUShares: 512, PidsLimit: &pids},
			CapAdd:    []string{"NET_ADMIN"}, Privileged: true, SecurityOpt: []string{"no-new-privileges"},
			Ulimits: []engine.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}}, ShmSize: 1 << 20,
			Networking: engine.Networking{NetworkMode: "app", ExposedPorts: nat.PortSet{"80/tcp": {}, "443/tcp": {}},
				PortBindings: nat.PortMap{"80/tcp": {{HostPort: "8080"}}}},
			Storage: engine.Storage{Binds: []string{"/srv:/s:ro"}, Tmpfs: map[string]string{"/run": "size=1m"},
				Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: "data", Target: "/data"}}},
		},
		Networks: map[string]*network.Endpoint{
			"app": {NetworkID: "n-app", EndpointID: "ep-app", IPAddress: netip.MustParseAddr("10.9.0.2"), IPPrefixLen: 24,
				Gateway: netip.MustParseAddr("10.9.0.1"), MacAddress: "02:42:0a:09:00:02", Aliases: []string{"www"}, StaticIP: true},
			"bridge": {NetworkID: "n-br", EndpointID: "ep-br", IPAddress: netip.MustParseAddr("172.17.0.5"), IPPrefixLen: 16,
				Gateway: netip.MustParseAddr("172.17.0.1"), MacAddress: "02:42:ac:11:00:05"},
		},
		Ports: nat.PortMap{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}}},
		Mounts: []engine.MountPoint{
			{Type: mount.TypeBind, Source: "/srv", Destination: "/s", Mode: "ro"},
			{Type: mount.TypeVolume, Name: "data", Source: "/var/lib/v/data/_data", Destination: "/data", Driver: "local", RW: true},
		},
	}
}

// TestInspect: containers/<id>/inspect read into docker's type (as the
// bridge reads it) gives each field of the record under docker's name.
func TestInspect(t *testing.T) {
	r := webRecord()
	data, err := json.Marshal(inspect(r, "/var/lib/c/web.log", "app", networkSettings{key: "/run/netns/web"}))
	if err != nil {
		t.Fatal(err)
	}
	var ir container.InspectResponse
	if err := json.Unmarshal(data, &ir); err != nil {
		t.Fatal(err)
	}
	hc, cfg, ns := ir.HostConfig, ir.Config, ir.NetworkSettings
	pids := int64(9)
	for what, c := range map[string][2]any{
		"Id":                      {ir.ID, r.ID},
		"Created":                 {ir.Created, "2024-01-02T03:03:05.000000006Z"},
		"Path":                    {ir.Path, "/docker-entrypoint.sh"},
		"Args":                    {ir.Args, []string{"nginx", "-g", "daemon off;"}},
		"Image":                   {ir.Image, r.ImageID},
		"Name":                    {ir.Name, "/web"},
		"LogPath":                 {ir.LogPath, "/var/lib/c/web.log"},
		"RestartCount":            {ir.RestartCount, 2},
		"Driver":                  {ir.Driver, "overlay"},
		"State":                   {*ir.State, container.State{Status: "running", Running: true, Pid: 42, StartedAt: "2024-01-02T03:04:05.000000006Z", FinishedAt: "0001-01-01T00:00:00Z"}},
		"Config.Hostname":         {cfg.Hostname, r.ID[:12]},
		"Config.User":             {cfg.User, "app"},
		"Config.Tty":              {cfg.Tty, true},
		"Config.OpenStdin":        {cfg.OpenStdin, true},
		"Config.Env":              {cfg.Env, []string{"A=1"}},
		"Config.Cmd":              {[]string(cfg.Cmd), []string{"nginx", "-g", "daemon off;"}},
		"Config.Image":            {cfg.Image, "nginx:alpine"},
		"Config.WorkingDir":       {cfg.WorkingDir, "/w"},
		"Config.StopSignal":       {cfg.StopSignal, "SIGQUIT"},
		"Config.StopTimeout":      {*cfg.StopTimeout, 7},
		"Config.ExposedPorts":     {cfg.ExposedPorts, nat.PortSet{"80/tcp": {}, "443/tcp": {}}},
		"Config.Labels":           {cfg.Labels, map[string]string{}},
		"HostConfig.AutoRemove":   {hc.AutoRemove, true},
		"HostConfig.Restart":      {hc.RestartPolicy, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}},
		"HostConfig.Runtime":      {hc.Runtime, "runc"},
		"HostConfig.CapAdd":       {[]string(hc.CapAdd), []string{"NET_ADMIN"}},
		"HostConfig.Privileged":   {hc.Privileged, true},
		"HostConfig.SecurityOpt":  {hc.SecurityOpt, []string{"no-new-privileges"}},
		"HostConfig.Ulimits":      {*hc.Ulimits[0], container.Ulimit{Name: "nofile", Soft: 10, Hard: 20}},
		"HostConfig.ShmSize":      {hc.ShmSize, int64(1 << 20)},
		"HostConfig.Memory":       {hc.Memory, int64(64 << 20)},
		"HostConfig.NanoCpus":     {hc.NanoCPUs, int64(1500000000)},
		"HostConfig.CpuShares":    {hc.CPUShares, int64(512)},
		"HostConfig.PidsLimit":    {hc.PidsLimit, &pids},
		"HostConfig.NetworkMode":  {string(hc.NetworkMode), "app"},
		"HostConfig.PortBindings": {hc.PortBindings, nat.PortMap{"80/tcp": {{HostPort: "8080"}}}},
		"HostConfig.Binds":        {hc.Binds, []string{"/srv:/s:ro"}},
		"HostConfig.Tmpfs":        {hc.Tmpfs, map[string]string{"/run": "size=1m"}},
		"HostConfig.Mounts":       {hc.Mounts, []mount.Mount{{Type: mount.TypeVolume, Source: "data", Target: "/data"}}},
		"SandboxKey":              {ns.SandboxKey, "/run/netns/web"},
		"Ports":                   {ns.Ports, nat.PortMap{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}}, "443/tcp": nil}},
		"Networks.app": {*ns.Networks["app"], networktypes.EndpointSettings{NetworkID: "n-app", EndpointID: "ep-app",
			IPAddress: "10.9.0.2", IPPrefixLen: 24, Gateway: "10.9.0.1", MacAddress: "02:42:0a:09:00:02", Aliases: []string{"www"},
			DNSNames: []string{"web", "www", r.ID[:12]}, IPAMConfig: &networktypes.EndpointIPAMConfig{IPv4Address: "10.9.0.2"}}},
		"IPAddress": {ns.IPAddress, "172.17.0.5"},
		"Gateway":   {ns.Gateway, "172.17.0.1"},
		"Mounts": {ir.Mounts, []container.MountPoint{
			{Type: mount.TypeBind, Source: "/srv", Destination: "/s", Mode: "ro", Propagation: mount.PropagationRPrivate},
			{Type: mount.TypeVolume, Name: "data", Source: "/var/lib/v/data/_data", Destination: "/data", Driver: "local", RW: true},
		}},
	} {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("%s = %#v, want %#v", what, c[0], c[1])
		}
	}
	// A container that never ran: no arguments is [], not null.
	r = engine.Record{ID: "c1", Name: "new", State: engine.State{Status: engine.StatusCreated}, Config: engine.Config{Hostname: "h"}}
	d := inspect(r, "", "none", networkSettings{})
	if d.Args == nil || d.Config.Hostname != "h" || d.State.Running || d.Mounts == nil || d.NetworkSettings.Ports == nil {
		t.Errorf("a new container's inspect %+v", d)
	}
	for status, want := range map[engine.Status][3]bool{ // running, paused, restarting
		engine.StatusPaused: {true, true, false}, engine.StatusRestarting: {false, false, true}, engine.StatusExited: {},
	} {
		s := inspect(engine.Record{State: engine.State{Status: status}}, "", "", networkSettings{}).State
		if got := [3]bool{s.Running, s.Paused, s.Restarting}; got != want {
			t.Errorf("%s: running, paused, restarting %v, want %v", status, got, want)
		}
	}
}

// TestStatusLines: the status file's line and the STATUS column of ps.
func TestStatusLines(t *testing.T) {
	start := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	now := start.Add(2 * time.Hour)
	for _, tc := range []struct {
		name  string
		s     engine.State
		line  string
		human string
	}{
		{"running", engine.State{Status: engine.StatusRunning, Pid: 42, StartedAt: start},
			"running pid=42 started=2024-01-02T03:04:05Z", "Up 2 hours"},
		{"paused", engine.State{Status: engine.StatusPaused, Pid: 42, StartedAt: start},
			"paused pid=42 started=2024-01-02T03:04:05Z", "Up 2 hours (Paused)"},
		{"exited", engine.State{Status: engine.StatusExited, ExitCode: 3, StartedAt: start, FinishedAt: start.Add(time.Hour)},
			"exited code=3 started=2024-01-02T03:04:05Z finished=2024-01-02T04:04:05Z", "Exited (3) About an hour ago"},
		{"killed by the OOM killer", engine.State{Status: engine.StatusExited, ExitCode: 137, OOMKilled: true, StartedAt: start,
			FinishedAt: start.Add(time.Hour), Error: "it's gone"},
			`exited code=137 started=2024-01-02T03:04:05Z finished=2024-01-02T04:04:05Z oomkilled error='it'\''s gone'`, "Exited (137) About an hour ago"},
		{"restarting", engine.State{Status: engine.StatusRestarting, ExitCode: 1, StartedAt: start, FinishedAt: now.Add(-5 * time.Second)},
			"restarting code=1 started=2024-01-02T03:04:05Z finished=2024-01-02T05:04:00Z", "Restarting (1) 5 seconds ago"},
		{"created", engine.State{Status: engine.StatusCreated}, "created", "Created"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusLine(tc.s); got != tc.line {
				t.Errorf("statusLine = %q, want %q", got, tc.line)
			}
			if got := humanStatus(tc.s, now); got != tc.human {
				t.Errorf("humanStatus = %q, want %q", got, tc.human)
			}
		})
	}
}

// TestListPieces: the COMMAND, PORTS and labels of containers/list.
func TestListPieces(t *testing.T) {
	for _, tc := range []struct {
		r    engine.Record
		want string
	}{
		{engine.Record{Path: "/bin/sh", Args: []string{"-c", "x"}}, "/bin/sh -c x"},
		{engine.Record{Config: engine.Config{Entrypoint: []string{"/init"}, Cmd: []string{"serve", "-v"}}}, "/init serve -v"},
		{engine.Record{Config: engine.Config{Cmd: []string{"sh"}}}, "sh"},
	} {
		if got := command(tc.r); got != tc.want {
			t.Errorf("command(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
	got := ports(nat.PortMap{
		"443/tcp": {{HostIP: "0.0.0.0", HostPort: "8443"}},
		"80/udp":  {{HostIP: "0.0.0.0", HostPort: "8080"}},
		"80/tcp":  {{HostIP: "0.0.0.0", HostPort: "8080"}, {HostIP: "::", HostPort: "8080"}},
		"53/udp":  nil,
	})
	want := []container.Port{{IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {IP: "::", PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
		{IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "udp"}, {IP: "0.0.0.0", PrivatePort: 443, PublicPort: 8443, Type: "tcp"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ports\n%+v\nwant\n%+v", got, want)
	}
	if got := ports(nil); got == nil || len(got) != 0 {
		t.Errorf("no ports: %#v", got)
	}
	if got := labels(nil); got == nil || len(got) != 0 {
		t.Errorf("no labels: %#v", got)
	}
	if shortID("0123456789abcdef") != "0123456789ab" || shortID("abc") != "abc" {
		t.Error("shortID")
	}
}

// TestTimeout: the SECONDS of stop and restart.
func TestTimeout(t *testing.T) {
	for _, tc := range []struct {
		secs string
		want time.Duration
		err  string
	}{
		{"", -1, ""}, {"-1", -1, ""}, {"0", 0, ""}, {"5", 5 * time.Second, ""},
		{"-2", 0, "stop: negative timeout -2"}, {"soon", 0, `stop: not a number "soon"`},
	} {
		d, err := timeout(verbs.ContainerStop{}, tc.secs)
		switch {
		case tc.err != "" && (!errors.Is(err, errdefs.ErrInvalid) || err.Error() != tc.err):
			t.Errorf("timeout(%q): %v, want %q", tc.secs, err, tc.err)
		case tc.err == "" && (err != nil || d != tc.want):
			t.Errorf("timeout(%q) = %v, %v; want %v", tc.secs, d, err, tc.want)
		}
	}
}

// TestDecodeStrict: a container's config file takes one whole JSON
// document of known fields; a cut one waits for the rest.
func TestDecodeStrict(t *testing.T) {
	var cfg engine.Config
	if err := decodeStrict([]byte(`{"Image":"busybox","Cmd":["sh"],"Memory":1024}`), &cfg); err != nil ||
		cfg.Image != "busybox" || cfg.Memory != 1024 || !reflect.DeepEqual(cfg.Cmd, []string{"sh"}) {
		t.Errorf("decodeStrict: %+v, %v", cfg, err)
	}
	for doc, want := range map[string]error{
		`{"Image":"bus`:                 fs.ErrIncomplete,
		`{"Image":"busybox","Bogus":1}`: errdefs.ErrInvalid,
		`{"Image":"a"} {"Image":"b"}`:   errdefs.ErrInvalid,
		`["not an object"]`:             errdefs.ErrInvalid,
	} {
		if err := decodeStrict([]byte(doc), &engine.Config{}); !errors.Is(err, want) {
			t.Errorf("decodeStrict(%s): %v, want %v", doc, err, want)
		}
	}
}

// TestEventMessage: an engine event in docker's shape, with the legacy
// fields compose reads for containers and images.
func TestEventMessage(t *testing.T) {
	at := time.Unix(1700000000, 123)
	for _, tc := range []struct {
		ev   engine.Event
		want events.Message
	}{
		{engine.Event{Type: "container", Action: "start", ID: "c1", Attributes: map[string]string{"name": "web", "image": "busybox"}, Time: at},
			events.Message{Status: "start", ID: "c1", From: "busybox", Type: "container", Action: "start",
				Actor: events.Actor{ID: "c1", Attributes: map[string]string{"name": "web", "image": "busybox"}},
				Scope: "local", Time: 1700000000, TimeNano: 1700000000000000123}},
		{engine.Event{Type: "image", Action: "tag", ID: "sha256:1", Attributes: map[string]string{"name": "x:1"}, Time: at},
			events.Message{Status: "tag", ID: "sha256:1", Type: "image", Action: "tag",
				Actor: events.Actor{ID: "sha256:1", Attributes: map[string]string{"name": "x:1"}},
				Scope: "local", Time: 1700000000, TimeNano: 1700000000000000123}},
		{engine.Event{Type: "network", Action: "connect", ID: "n1", Time: at},
			events.Message{Type: "network", Action: "connect", Actor: events.Actor{ID: "n1"},
				Scope: "local", Time: 1700000000, TimeNano: 1700000000000000123}},
	} {
		if got := eventMessage(tc.ev); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("eventMessage(%+v)\n%+v\nwant\n%+v", tc.ev, got, tc.want)
		}
	}
}
