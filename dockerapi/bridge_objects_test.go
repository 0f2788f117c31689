package dockerapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"

	"github.com/enginefs/enginefs/errdefs"
)

// networkList is networks/list: the predefined bridge, app (a container
// on it) and old (none).
const networkList = `[
{"Name":"bridge","Id":"b0000000000000000000000000000000000000000000000000000000000000001","Created":"2024-01-01T00:00:00Z",
 "Scope":"local","Driver":"bridge","Containers":{},"Options":{},"Labels":{}},
{"Name":"app","Id":"a0000000000000000000000000000000000000000000000000000000000000002","Created":"2024-01-02T00:00:00Z",
 "Scope":"local","Driver":"bridge","Containers":{"c1":{"Name":"web"}},"Options":{},"Labels":{"com.docker.compose.network":"app"}},
{"Name":"old","Id":"d0000000000000000000000000000000000000000000000000000000000000003","Created":"2020-01-01T00:00:00Z",
 "Scope":"local","Driver":"macvlan","Containers":{},"Options":{"parent":"eth0"},"Labels":{"team":"ops"}}
]`

// TestBridgeNetworks: network create, connect, disconnect and rm are
// lines of networks/ctl and a network's ctl.
func TestBridgeNetworks(t *testing.T) {
	for _, tc := range []struct {
		name, method, target, body string
		lines                      []string
		status                     int
		reply                      string
	}{
		{"create as compose sends it", "POST", "/v1.41/networks/create",
			`{"Name":"app","CheckDuplicate":true,"Driver":"bridge","Internal":true,"Attachable":false,"Ingress":false,` +
				`"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"10.9.0.0/24","Gateway":"10.9.0.1"}]},` +
				`"Options":{"com.docker.network.bridge.name":"br-app","a":"1"},"Labels":{"com.docker.compose.network":"app"}}`,
			[]string{"networks/ctl: create app driver=bridge subnet=10.9.0.0/24 gateway=10.9.0.1 internal=true " +
				"opt=a=1 opt=com.docker.network.bridge.name=br-app label=com.docker.compose.network=app"},
			201, `{"Id":"n1","Warning":""}` + "\n"},
		{"create with defaults", "POST", "/networks/create", `{"Name":"plain"}`,
			[]string{"networks/ctl: create plain"}, 201, `{"Id":"n1","Warning":""}` + "\n"},
		{"create of a taken name", "POST", "/networks/create", `{"Name":"taken"}`,
			[]string{"networks/ctl: create taken"}, 409, `{"message":"network with name taken already exists"}` + "\n"},
		{"create with IPv6", "POST", "/networks/create", `{"Name":"v6","EnableIPv6":true}`, nil, 400,
			`{"message":"network v6: IPv6 (EnableIPv6) is not supported"}` + "\n"},
		{"create with two subnets", "POST", "/networks/create",
			`{"Name":"two","IPAM":{"Config":[{"Subnet":"10.1.0.0/24"},{"Subnet":"10.2.0.0/24"}]}}`, nil, 400,
			`{"message":"network two: 2 IPAM configs: one IPv4 subnet is supported"}` + "\n"},
		{"create with a range", "POST", "/networks/create",
			`{"Name":"r","IPAM":{"Config":[{"Subnet":"10.1.0.0/16","IPRange":"10.1.2.0/24","AuxiliaryAddresses":{"b":"10.1.0.3","a":"10.1.0.2"}}]}}`,
			[]string{"networks/ctl: create r subnet=10.1.0.0/16 ip-range=10.1.2.0/24 aux-address=a=10.1.0.2 aux-address=b=10.1.0.3"}, 201,
			`{"Id":"n1","Warning":""}` + "\n"},
		{"create with a gateway alone", "POST", "/networks/create", `{"Name":"g","IPAM":{"Config":[{"Gateway":"10.1.0.1"}]}}`, nil, 400,
			`{"message":"network g: a gateway needs a subnet"}` + "\n"},
		{"create with a swarm scope", "POST", "/networks/create", `{"Name":"s","Scope":"swarm"}`, nil, 400,
			`{"message":"network s: scope \"swarm\" is not supported (local only)"}` + "\n"},
		{"create without a name", "POST", "/networks/create", `{"Driver":"bridge"}`, nil, 400,
			`{"message":"network create: the Name is empty"}` + "\n"},
		{"connect", "POST", "/networks/app/connect",
			`{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"10.9.0.7"},"Aliases":["www","w"]}}`,
			[]string{"networks/app/ctl: connect web ip=10.9.0.7 alias=www alias=w"}, 200, ""},
		{"connect with IPv6", "POST", "/networks/app/connect",
			`{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv6Address":"fd00::7"}}}`, nil, 400,
			`{"message":"endpoint of web: IPv6 and link-local addresses are not supported"}` + "\n"},
		{"connect of no container", "POST", "/networks/app/connect", `{"Container":"nosuch"}`, nil, 404,
			`{"message":"No such container: nosuch"}` + "\n"},
		{"disconnect", "POST", "/networks/app/disconnect", `{"Container":"web","Force":true}`,
			[]string{"networks/app/ctl: disconnect web"}, 200, ""},
		{"rm", "DELETE", "/networks/app", "", []string{"networks/app/ctl: rm"}, 204, ""},
		{"rm of a network in use", "DELETE", "/networks/busy", "", []string{"networks/busy/ctl: rm"}, 409,
			`{"message":"network busy has active endpoints"}` + "\n"},
		{"inspect", "GET", "/networks/app", "", nil, 200, `{"Name":"app","Id":"n1","Created":"0001-01-01T00:00:00Z","Scope":"local",` +
			`"Driver":"bridge","EnableIPv4":true,"EnableIPv6":false,"IPAM":{"Driver":"default","Options":null,"Config":[]},` +
			`"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":{},` +
			`"Options":{},"Labels":{}}` + "\n"},
		{"inspect of nothing", "GET", "/networks/nosuch", "", nil, 404, ""},
		{"prune", "POST", "/networks/prune", "", []string{"networks/ctl: prune"}, 200, `{"NetworksDeleted":["old","unused"]}` + "\n"},
		{"prune by label", "POST", query("/networks/prune", "filters", `{"label":["team=ops"]}`),
			"", []string{"networks/d0000000000000000000000000000000000000000000000000000000000000003/ctl: rm"}, 200,
			`{"NetworksDeleted":["old"]}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.file("networks/list", networkList)
			f.file("networks/app/config", `{"Name":"app","Id":"n1","Scope":"local","Driver":"bridge","EnableIPv4":true,`+
				`"IPAM":{"Driver":"default","Config":[]},"Containers":{},"Options":{},"Labels":{}}`)
			f.file("containers/web/status", "running pid=1 started=x\n")
			f.ctl("networks/ctl", func(line string) (string, error) {
				switch {
				case strings.HasPrefix(line, "create taken"):
					return "", errdefs.AlreadyExists("network with name taken already exists")
				case line == "prune":
					return "old\nunused", nil
				}
				return "n1", nil
			})
			f.ctl("networks/app/ctl", nil)
			f.ctl("networks/d0000000000000000000000000000000000000000000000000000000000000003/ctl", nil)
			f.ctl("networks/busy/ctl", func(string) (string, error) { return "", errdefs.Busy("network busy has active endpoints") })
			rec := f.do(t, tc.method, tc.target, tc.body)
			sameLines(t, tc.target, f.recorded(), tc.lines)
			if rec.Code != tc.status || (tc.reply != "" || tc.status < 300) && rec.Body.String() != tc.reply {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.reply)
			}
		})
	}
}

// TestBridgeListNetworks: GET /networks filters networks/list as docker
// does.
func TestBridgeListNetworks(t *testing.T) {
	for _, tc := range []struct {
		name, filters string
		want          string // names
		status        int
	}{
		{"all", "", "bridge app old", 200},
		{"custom", `{"type":["custom"]}`, "app old", 200},
		{"builtin", `{"type":["builtin"]}`, "bridge", 200},
		{"dangling", `{"dangling":["true"]}`, "old", 200},
		{"driver", `{"driver":["macvlan"]}`, "old", 200},
		{"label", `{"label":["com.docker.compose.network=app"]}`, "app", 200},
		{"name", `{"name":["ap"]}`, "app", 200},
		{"id prefix", `{"id":["b000"]}`, "bridge", 200},
		{"a bad type", `{"type":["mine"]}`, "", 400},
		{"an unknown filter", `{"color":["red"]}`, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.file("networks/list", networkList)
			target := "/networks"
			if tc.filters != "" {
				target = query(target, "filters", tc.filters)
			}
			rec := f.do(t, "GET", target, "")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 200 {
				return
			}
			var got []network.Inspect
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, n := range got {
				names = append(names, n.Name)
			}
			if strings.Join(names, " ") != tc.want {
				t.Errorf("networks %q, want %q", strings.Join(names, " "), tc.want)
			}
		})
	}
}

// volumeUsage is volumes/usage: an unused anonymous volume, an unused
// named one and an anonymous one in use.
const volumeUsage = `[
{"Name":"anon1","Driver":"local","Mountpoint":"/v/anon1","Scope":"local","CreatedAt":"2024-01-01T00:00:00Z",
 "Labels":{"com.docker.volume.anonymous":""},"Options":{},"UsageData":{"RefCount":0,"Size":100}},
{"Name":"data","Driver":"local","Mountpoint":"/v/data","Scope":"local","CreatedAt":"2024-01-01T00:00:00Z",
 "Labels":{"team":"ops"},"Options":{},"UsageData":{"RefCount":0,"Size":2000}},
{"Name":"anon2","Driver":"local","Mountpoint":"/v/anon2","Scope":"local","CreatedAt":"2024-01-01T00:00:00Z",
 "Labels":{"com.docker.volume.anonymous":""},"Options":{},"UsageData":{"RefCount":1,"Size":5}}
]`

// TestBridgeVolumes: volume create and rm are lines of volumes/ctl and a
// volume's ctl; the answers are the volumes' documents.
func TestBridgeVolumes(t *testing.T) {
	dataDoc := `{"CreatedAt":"2024-01-01T00:00:00Z","Driver":"local","Labels":{"x":"y"},"Mountpoint":"/v/data",` +
		`"Name":"data","Options":{"device":"tmpfs","o":"size=64m","type":"tmpfs"},"Scope":"local"}` + "\n"
	for _, tc := range []struct {
		name, method, target, body string
		lines                      []string
		status                     int
		reply                      string
	}{
		{"create", "POST", "/v1.50/volumes/create",
			`{"Name":"data","Driver":"local","DriverOpts":{"type":"tmpfs","device":"tmpfs","o":"size=64m"},"Labels":{"x":"y"}}`,
			[]string{"volumes/ctl: create data driver=local opt=device=tmpfs opt=o=size=64m opt=type=tmpfs label=x=y"}, 201, dataDoc},
		{"create with a name made up", "POST", "/volumes/create", "",
			[]string{"volumes/ctl: create"}, 201, dataDoc},
		{"create a cluster volume", "POST", "/volumes/create", `{"Name":"c","ClusterVolumeSpec":{}}`, nil, 400,
			`{"message":"cluster volumes (ClusterVolumeSpec) are not supported"}` + "\n"},
		{"create with a bad option", "POST", "/volumes/create", `{"Name":"bad","DriverOpts":{"size":"1"}}`,
			[]string{"volumes/ctl: create bad opt=size=1"}, 400, `{"message":"local volume: unknown option size"}` + "\n"},
		{"inspect", "GET", "/volumes/data", "", nil, 200, dataDoc},
		{"inspect of nothing", "GET", "/volumes/nosuch", "", nil, 404, ""},
		{"rm", "DELETE", "/volumes/data", "", []string{"volumes/data/ctl: rm"}, 204, ""},
		{"rm -f of nothing", "DELETE", "/volumes/nosuch?force=1", "", nil, 204, ""},
		{"rm of nothing", "DELETE", "/volumes/nosuch", "", nil, 404, ""},
		{"rm of a volume in use", "DELETE", "/volumes/anon2", "", []string{"volumes/anon2/ctl: rm"}, 409,
			`{"message":"remove anon2: volume is in use - [c0ffee]"}` + "\n"},
		{"prune", "POST", "/volumes/prune", "", []string{"volumes/anon1/ctl: rm"}, 200,
			`{"VolumesDeleted":["anon1"],"SpaceReclaimed":100}` + "\n"},
		{"prune all", "POST", query("/volumes/prune", "filters", `{"all":["true"]}`), "",
			[]string{"volumes/anon1/ctl: rm", "volumes/data/ctl: rm"}, 200, `{"VolumesDeleted":["anon1","data"],"SpaceReclaimed":2100}` + "\n"},
		{"prune all but a label", "POST", query("/volumes/prune", "filters", `{"all":["1"],"label!":["team"]}`), "",
			[]string{"volumes/anon1/ctl: rm"}, 200, `{"VolumesDeleted":["anon1"],"SpaceReclaimed":100}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.ctl("volumes/ctl", func(line string) (string, error) {
				if strings.HasPrefix(line, "create bad") {
					return "", errdefs.Invalid("local volume: unknown option size")
				}
				return "data\n", nil
			})
			f.file("volumes/usage", volumeUsage)
			f.file("volumes/data/config", dataDoc)
			f.ctl("volumes/data/ctl", nil)
			f.ctl("volumes/anon1/ctl", nil)
			f.ctl("volumes/anon2/ctl", func(string) (string, error) { return "", errdefs.Busy("volume anon2 is in use") })
			f.file("containers/list", `[{"Id":"c0ffee","Mounts":[{"Type":"volume","Name":"anon2","Destination":"/x"}]},`+
				`{"Id":"other","Mounts":[{"Type":"bind","Name":"anon2","Destination":"/y"}]}]`)
			rec := f.do(t, tc.method, tc.target, tc.body)
			sameLines(t, tc.target, f.recorded(), tc.lines)
			if rec.Code != tc.status || (tc.reply != "" || tc.status < 300) && rec.Body.String() != tc.reply {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.reply)
			}
		})
	}
}

// TestBridgeListVolumes: GET /volumes filters volumes/list.
func TestBridgeListVolumes(t *testing.T) {
	for _, tc := range []struct {
		name, filters string
		want          string
	}{
		{"all", "", "anon1 data anon2"},
		{"dangling", `{"dangling":["true"]}`, "anon1 data"},
		{"in use", `{"dangling":["false"]}`, "anon2"},
		{"label", `{"label":["team=ops"]}`, "data"},
		{"name", `{"name":["anon"]}`, "anon1 anon2"},
		{"driver", `{"driver":["other"]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.file("volumes/list", volumeUsage)
			target := "/volumes"
			if tc.filters != "" {
				target = query(target, "filters", tc.filters)
			}
			rec := f.do(t, "GET", target, "")
			var got volume.ListResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
				t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
			}
			var names []string
			for _, v := range got.Volumes {
				names = append(names, v.Name)
			}
			if strings.Join(names, " ") != tc.want || got.Warnings == nil {
				t.Errorf("volumes %q (warnings %v), want %q", strings.Join(names, " "), got.Warnings, tc.want)
			}
		})
	}
}

// TestBridgeSystem: /_ping's headers, /version and /info from the tree's
// version and info files.
func TestBridgeSystem(t *testing.T) {
	f := newFakeTree()
	f.file("version", "enginefs 0.3.1 go1.24.2 linux/arm64\n")
	f.file("info", `{"Name":"host1","KernelVersion":"6.1.0-18-amd64","DockerRootDir":"/var/lib/enginefs","Containers":3,"Images":2}`)
	t.Run("ping", func(t *testing.T) {
		for _, method := range []string{"GET", "HEAD"} {
			rec := f.do(t, method, "/_ping", "")
			want := map[string]string{
				"Api-Version": "1.50", "Ostype": "linux", "Docker-Experimental": "false", "Builder-Version": "1",
				"Swarm": "inactive", "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache",
				"Content-Type": "text/plain; charset=utf-8",
			}
			for k, v := range want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s /_ping: %s %q, want %q", method, k, got, v)
				}
			}
			if !strings.HasPrefix(rec.Header().Get("Server"), "Docker/enginefs-") {
				t.Errorf("%s /_ping: Server %q", method, rec.Header().Get("Server"))
			}
		}
	})
	t.Run("version", func(t *testing.T) {
		rec := f.do(t, "GET", "/version", "")
		var got types.Version
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
			t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
		}
		want := types.Version{
			Platform: struct{ Name string }{Name: "enginefs 0.3.1"},
			Components: []types.ComponentVersion{{Name: "Engine", Version: "0.3.1", Details: map[string]string{
				"ApiVersion": "1.50", "MinAPIVersion": "1.41", "GoVersion": "go1.24.2", "Os": "linux", "Arch": "arm64",
				"KernelVersion": "6.1.0-18-amd64", "GitCommit": "", "BuildTime": "", "Experimental": "false"}}},
			Version: "0.3.1", APIVersion: "1.50", MinAPIVersion: "1.41", GoVersion: "go1.24.2", Os: "linux", Arch: "arm64",
			KernelVersion: "6.1.0-18-amd64",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("version\n%+v\nwant\n%+v", got, want)
		}
	})
	t.Run("info", func(t *testing.T) {
		rec := f.do(t, "GET", "/v1.50/info", "")
		var got system.Info
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
			t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
		}
		checks := map[string][2]any{
			"Name":          {got.Name, "host1"},
			"Containers":    {got.Containers, 3},
			"ServerVersion": {got.ServerVersion, "0.3.1"},
			"ID":            {len(got.ID), 32},
			"LoggingDriver": {got.LoggingDriver, "json-file"},
			"Swarm":         {string(got.Swarm.LocalNodeState), "inactive"},
			"Volume":        {got.Plugins.Volume, []string{"local"}},
			"Warnings":      {got.Warnings, []string{}},
		}
		for what, c := range checks {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("%s = %#v, want %#v", what, c[0], c[1])
			}
		}
	})
	t.Run("no version file", func(t *testing.T) {
		rec := newFakeTree().do(t, "GET", "/version", "")
		if rec.Code != 404 {
			t.Errorf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

// TestBridgeEvents: GET /events is the tree's events, cut to since and
// until and filtered; an exec event carries docker's exec id.
func TestBridgeEvents(t *testing.T) {
	const t0 = int64(1700000000)
	cid := strings.Repeat("c", 64)
	ev := func(i int, typ, action, id string, attrs string, secs int64) string {
		return fmt.Sprintf(`{"Type":%q,"Action":%q,"Actor":{"ID":%q,"Attributes":%s},"scope":"local","time":%d,"timeNano":%d}`+"\n",
			typ, action, id, attrs, t0+secs, (t0+secs)*1e9+int64(i))
	}
	events := []string{
		ev(1, "container", "create", cid, `{"name":"web","image":"busybox"}`, 0),
		ev(2, "container", "start", cid, `{"name":"web","image":"busybox"}`, 10),
		ev(3, "network", "connect", "n1", `{"name":"app","container":"`+cid+`"}`, 20),
		ev(4, "container", "exec_start: sh -c date", cid, `{"name":"web","execID":"2"}`, 30),
		ev(5, "volume", "create", "data", `{"driver":"local"}`, 40),
		ev(6, "container", "die", cid, `{"name":"web","exitCode":"0"}`, 200),
	}
	for _, tc := range []struct {
		name, since, until, filters string
		want                        string // the actions
		status                      int
	}{
		{"since and until", "1700000005", "1700000100", "", "start connect exec_start: sh -c date create", 200},
		{"type", "1700000000", "1700000100", `{"type":["container"]}`, "create start exec_start: sh -c date", 200},
		{"event", "1700000000", "1700000100", `{"event":["exec_start"]}`, "exec_start: sh -c date", 200},
		{"container by name", "1700000000", "1700000300", `{"container":["web"]}`, "create start exec_start: sh -c date die", 200},
		{"image", "1700000000", "1700000100", `{"image":["busybox:latest"]}`, "create start", 200},
		{"network", "1700000000", "1700000100", `{"network":["app"]}`, "connect", 200},
		{"volume", "1700000000", "1700000100", `{"volume":["data"]}`, "create", 200},
		{"RFC 3339", "2023-11-14T22:13:25Z", "2023-11-14T22:14:00.1Z", "", "start connect exec_start: sh -c date create", 200},
		{"without since: from now on", "", "", "", "", 200},
		{"since after until", "1700000100", "1700000000", "", "", 400},
		{"an unknown filter", "", "", `{"daemon":["x"]}`, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.stream("events", events...)
			rec := f.do(t, "GET", query("/events", "since", tc.since, "until", tc.until, "filters", tc.filters), "")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			var actions []string
			dec := json.NewDecoder(rec.Body)
			for dec.More() {
				var m struct {
					Action string
					Actor  struct{ Attributes map[string]string }
				}
				if err := dec.Decode(&m); err != nil {
					t.Fatal(err)
				}
				actions = append(actions, m.Action)
				if x, ok := m.Actor.Attributes["execID"]; ok && x != cid[:56]+"00000002" {
					t.Errorf("execID %q", x)
				}
			}
			if strings.Join(actions, " ") != tc.want {
				t.Errorf("events %q, want %q", strings.Join(actions, " "), tc.want)
			}
		})
	}
}

// TestBridgeSystemDF: GET /system/df counts each layer once and shares
// the size of the layers several images hold.
func TestBridgeSystemDF(t *testing.T) {
	f := newFakeTree()
	f.file("containers/list", `[{"Id":"c1","Names":["/web"],"State":"running","Labels":null}]`)
	f.file("images/list", `[{"Id":"`+idBusybox+`","RepoTags":["busybox:latest"],"Size":100,"SharedSize":-1},`+
		`{"Id":"`+idApp+`","ParentId":"`+idBusybox+`","RepoTags":["app:1"],"Size":150,"SharedSize":-1},`+
		`{"Id":"`+idOld+`","RepoTags":[],"Size":10,"SharedSize":-1}]`)
	f.file("images/by-id/"+strings.Repeat("b", 64)+"/layers", "sha256:l1 sha256:b1 100\n")
	f.file("images/by-id/"+strings.Repeat("a", 64)+"/layers", "sha256:l1 sha256:b1 100\nsha256:l2 sha256:b2 50\n")
	f.file("images/by-id/"+strings.Repeat("d", 64)+"/layers", "sha256:l9 sha256:b9 10\n")
	f.file("volumes/usage", volumeUsage)
	rec := f.do(t, "GET", "/v1.50/system/df", "")
	var du types.DiskUsage
	if err := json.Unmarshal(rec.Body.Bytes(), &du); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	if du.LayersSize != 160 {
		t.Errorf("LayersSize %d, want 160 (each layer once)", du.LayersSize)
	}
	shared := map[string]int64{}
	for _, img := range du.Images {
		shared[img.ID] = img.SharedSize
	}
	if want := map[string]int64{idBusybox: 100, idApp: 100, idOld: 0}; !reflect.DeepEqual(shared, want) {
		t.Errorf("shared sizes %v, want %v", shared, want)
	}
	if len(du.Containers) != 1 || du.Containers[0].Labels == nil || du.Containers[0].Ports == nil || du.Containers[0].Mounts == nil {
		t.Errorf("containers %+v", du.Containers)
	}
	if len(du.Volumes) != 3 || du.Volumes[1].UsageData.Size != 2000 || du.BuildCache == nil {
		t.Errorf("volumes %+v, build cache %v", du.Volumes, du.BuildCache)
	}
}
