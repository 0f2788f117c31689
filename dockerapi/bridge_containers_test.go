package dockerapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
)

// cliRunBody is the body of POST /containers/create?name=web as the docker
// CLI 28.2.2 sends it for
//
//	docker run -d --name web -p 8080:80 -p 127.0.0.1:8443:443 \
//	  -v /srv/site:/usr/share/nginx/html:ro -v /cache \
//	  --mount type=volume,src=data,dst=/data,volume-nocopy --tmpfs /run:size=64m \
//	  -m 64m --cpus 1.5 --restart on-failure:3 --cap-add NET_ADMIN \
//	  --ulimit nofile=1024:2048 --network app --network-alias www \
//	  -e A=1 -l com.example.role=web nginx:alpine nginx -g 'daemon off;'
//
// (every field of its structs, most of them zero).
const cliRunBody = `{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,
"ExposedPorts":{"443/tcp":{},"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["A=1"],
"Cmd":["nginx","-g","daemon off;"],"Image":"nginx:alpine","Volumes":{"/cache":{}},"WorkingDir":"","Entrypoint":null,
"OnBuild":null,"Labels":{"com.example.role":"web"},
"HostConfig":{"Binds":["/srv/site:/usr/share/nginx/html:ro"],"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},
"NetworkMode":"app","PortBindings":{"443/tcp":[{"HostIp":"127.0.0.1","HostPort":"8443"}],"80/tcp":[{"HostIp":"","HostPort":"8080"}]},
"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,
"ConsoleSize":[50,200],"CapAdd":["NET_ADMIN"],"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],
"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,
"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"Tmpfs":{"/run":"size=64m"},"UTSMode":"","UsernsMode":"",
"ShmSize":0,"Isolation":"","CpuShares":0,"Memory":67108864,"NanoCpus":1500000000,"CgroupParent":"","BlkioWeight":0,
"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],
"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],
"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,
"OomKillDisable":null,"PidsLimit":null,"Ulimits":[{"Name":"nofile","Hard":2048,"Soft":1024}],"CpuCount":0,"CpuPercent":0,
"IOMaximumIOps":0,"IOMaximumBandwidth":0,
"Mounts":[{"Type":"volume","Source":"data","Target":"/data","VolumeOptions":{"NoCopy":true}}],
"MaskedPaths":null,"ReadonlyPaths":null},
"NetworkingConfig":{"EndpointsConfig":{"app":{"IPAMConfig":null,"Links":null,"Aliases":["www"],"MacAddress":"",
"DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,
"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}`

// cliRunItBody is docker run -it --rm -w /tmp -u 1000:1000 --entrypoint ""
// --stop-signal SIGINT --stop-timeout 3 --pids-limit 50 --read-only
// --privileged --network host -p 80 busybox sh, with a terminal of 50x200.
const cliRunItBody = `{"Hostname":"","User":"1000:1000","AttachStdin":true,"AttachStdout":true,"AttachStderr":true,
"ExposedPorts":{"80/tcp":{}},"Tty":true,"OpenStdin":true,"StdinOnce":true,"Env":[],"Cmd":["sh"],"Image":"busybox",
"Volumes":{},"WorkingDir":"/tmp","Entrypoint":[],"OnBuild":null,"Labels":{},"StopSignal":"SIGINT","StopTimeout":3,
"HostConfig":{"Binds":null,"NetworkMode":"host","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":""}]},
"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"ConsoleSize":[50,200],"Privileged":true,
"ReadonlyRootfs":true,"PidsLimit":50,"Memory":0,"NanoCpus":0},
"NetworkingConfig":{"EndpointsConfig":{"host":{}}}}`

// TestBridgeCreate: a create request as the docker CLI sends it becomes one
// exact create line on containers/ctl, and the reply is the container's id.
func TestBridgeCreate(t *testing.T) {
	const id = "4f1c0a7d9e2b4c6a8d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"
	for _, tc := range []struct {
		name, target, body string
		want               string // the line
		status             int
		reply              string
	}{
		{"run -d with ports, binds, mounts, limits and a network", "/v1.50/containers/create?name=web", cliRunBody,
			"create image=nginx:alpine name=web env=A=1 restart=on-failure:3 memory=67108864 cpus=1.5 cap-add=NET_ADMIN " +
				"ulimit=nofile=1024:2048 label=com.example.role=web network=app alias=www publish=127.0.0.1:8443:443/tcp " +
				"publish=8080:80/tcp volume=/srv/site:/usr/share/nginx/html:ro volume=/cache " +
				"mount=type=volume,dst=/data,src=data,volume-nocopy tmpfs=/run:size=64m -- nginx -g 'daemon off;'",
			http.StatusCreated, `{"Id":"` + id + `","Warnings":[]}` + "\n"},
		{"run -it --rm on the host network", "/v1.50/containers/create", cliRunItBody,
			"create image=busybox workdir=/tmp user=1000:1000 entrypoint='' rm=true tty=true stdin=true stdin-once=true " +
				"stop-signal=SIGINT stop-timeout=3 pids-limit=50 privileged=true read-only=true console-size=50x200 " +
				"network=host publish=80/tcp -- sh",
			http.StatusCreated, `{"Id":"` + id + `","Warnings":["Published ports are discarded when using host network mode"]}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.ctl("containers/ctl", func(string) (string, error) { return id, nil })
			rec := f.do(t, "POST", tc.target, tc.body, "Content-Type", "application/json")
			sameLines(t, "create", f.recorded(), []string{"containers/ctl: " + tc.want})
			if rec.Code != tc.status || rec.Body.String() != tc.reply {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body.String(), tc.status, tc.reply)
			}
		})
	}
}

// TestBridgeCreateErrors: what the tree refuses keeps its class; a request
// the bridge refuses writes nothing.
func TestBridgeCreateErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		err        error // the tree's answer
		lines      int
		status     int
		reply      string
	}{
		{"missing image", `{"Image":"nosuch:1"}`, errdefs.NotFound("No such image: nosuch:1"), 1,
			404, `{"message":"No such image: nosuch:1"}` + "\n"},
		{"name taken", `{"Image":"busybox"}`, errdefs.AlreadyExists(`the container name "web" is already in use`), 1,
			409, `{"message":"the container name \"web\" is already in use"}` + "\n"},
		{"bad value", `{"Image":"busybox"}`, errdefs.Invalid("create: bad value: memory=x"), 1,
			400, `{"message":"create: bad value: memory=x"}` + "\n"},
		{"no image", `{"Cmd":["sh"]}`, nil, 0,
			400, `{"message":"no image specified: the config has no Image"}` + "\n"},
		{"empty body", ``, nil, 0,
			400, `{"message":"the request body is empty: a JSON object was expected"}` + "\n"},
		{"links on a user-defined network", `{"Image":"busybox","HostConfig":{"NetworkMode":"n"},"NetworkingConfig":{"EndpointsConfig":{"n":{"Links":["db:db"]}}}}`, nil, 0,
			400, `{"message":"network n: links are supported on the default bridge network only (containers on a user-defined network find each other by name)"}` + "\n"},
		{"npipe mount", `{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"npipe","Target":"/x"}]}}`, nil, 0,
			400, `{"message":"mount type \"npipe\" is not supported (bind, volume or tmpfs)"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.ctl("containers/ctl", func(string) (string, error) { return "", tc.err })
			rec := f.do(t, "POST", "/containers/create?name=web", tc.body)
			if got := f.recorded(); len(got) != tc.lines {
				t.Errorf("lines %q, want %d", got, tc.lines)
			}
			if rec.Code != tc.status || rec.Body.String() != tc.reply {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body.String(), tc.status, tc.reply)
			}
		})
	}
}

// TestBridgeCreateEndpoints: API 1.44 creates on several networks: the
// first is the create's, the others are connects; a connect that fails
// removes the container again.
func TestBridgeCreateEndpoints(t *testing.T) {
	body := `{"Image":"busybox","HostConfig":{"NetworkMode":"front"},"NetworkingConfig":{"EndpointsConfig":{
		"front":{"Aliases":["web"],"IPAMConfig":{"IPv4Address":"10.1.0.5"}},
		"back":{"Aliases":["api","api2"]},
		"admin":{"IPAMConfig":{"IPv4Address":"10.3.0.9"}}}}}`
	for _, tc := range []struct {
		name    string
		backErr error
		want    []string
		status  int
	}{
		{"all joined", nil, []string{
			"containers/ctl: create image=busybox network=front ip=10.1.0.5 alias=web",
			"networks/admin/ctl: connect c1 ip=10.3.0.9",
			"networks/back/ctl: connect c1 alias=api alias=api2",
		}, http.StatusCreated},
		{"a connect fails", errdefs.NotFound("no such network: back"), []string{
			"containers/ctl: create image=busybox network=front ip=10.1.0.5 alias=web",
			"networks/admin/ctl: connect c1 ip=10.3.0.9",
			"networks/back/ctl: connect c1 alias=api alias=api2",
			"containers/c1/ctl: rm force",
		}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.ctl("containers/ctl", func(string) (string, error) { return "c1", nil })
			f.ctl("containers/c1/ctl", nil)
			f.ctl("networks/admin/ctl", nil)
			f.ctl("networks/back/ctl", func(string) (string, error) { return "", tc.backErr })
			rec := f.do(t, "POST", "/containers/create", body)
			sameLines(t, "create", f.recorded(), tc.want)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
		})
	}
}

// containerTree is a tree with three containers: web running, db exited
// with 3 and new created; each ctl records its lines.
func containerTree() *fakeTree {
	f := newFakeTree()
	for name, status := range map[string]string{
		"web": "running pid=42 started=2024-01-02T03:04:05Z\n",
		"db":  "exited code=3 started=2024-01-02T03:04:05Z finished=2024-01-02T04:04:05Z\n",
		"new": "created\n",
	} {
		f.file("containers/"+name+"/status", status)
		f.ctl("containers/"+name+"/ctl", nil)
	}
	return f
}

// TestBridgeContainerVerbs: each lifecycle endpoint writes its verb to the
// container's ctl, with docker's query words as its arguments.
func TestBridgeContainerVerbs(t *testing.T) {
	for _, tc := range []struct {
		name, method, target string
		want                 string // the line on the container's ctl; "" none
		status               int
	}{
		{"stop with a timeout", "POST", "/v1.50/containers/web/stop?t=5", "containers/web/ctl: stop 5", 204},
		{"stop with the container's timeout", "POST", "/containers/web/stop", "containers/web/ctl: stop", 204},
		{"stop waiting for ever", "POST", "/containers/web/stop?t=-1", "containers/web/ctl: stop -1", 204},
		{"stop with a signal", "POST", "/containers/web/stop?t=10&signal=SIGINT", "containers/web/ctl: stop 10 signal=SIGINT", 204},
		{"stop of a stopped container", "POST", "/containers/db/stop?t=5", "", 304},
		{"stop with a bad timeout", "POST", "/containers/web/stop?t=-2", "", 400},
		{"start", "POST", "/containers/new/start", "containers/new/ctl: start", 204},
		{"start of a running container", "POST", "/containers/web/start", "", 304},
		{"restart", "POST", "/containers/db/restart?t=0", "containers/db/ctl: restart 0", 204},
		{"kill with a signal", "POST", "/containers/web/kill?signal=HUP", "containers/web/ctl: kill HUP", 204},
		{"kill", "POST", "/containers/web/kill", "containers/web/ctl: kill", 204},
		{"pause", "POST", "/containers/web/pause", "containers/web/ctl: pause", 204},
		{"unpause", "POST", "/containers/web/unpause", "containers/web/ctl: resume", 204},
		{"rm -f -v", "DELETE", "/v1.50/containers/web?force=1&v=1", "containers/web/ctl: rm force volumes", 204},
		{"rm -v", "DELETE", "/containers/db?v=true", "containers/db/ctl: rm volumes", 204},
		{"rm as compose sends it", "DELETE", "/containers/db?v=False&force=False", "containers/db/ctl: rm", 204},
		{"rm with links", "DELETE", "/containers/db?link=1", "", 400},
		{"rename", "POST", "/containers/web/rename?name=site", "containers/web/ctl: rename site", 204},
		{"rename to a slashed name", "POST", "/containers/web/rename?name=/site", "containers/web/ctl: rename site", 204},
		{"rename without a name", "POST", "/containers/web/rename", "", 400},
		{"resize", "POST", "/containers/web/resize?h=40&w=120", "containers/web/ctl: resize 40 120", 200},
		{"resize to nothing", "POST", "/containers/web/resize?h=0&w=120", "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := containerTree()
			rec := f.do(t, tc.method, tc.target, "")
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			sameLines(t, tc.target, f.recorded(), want)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 304 && rec.Body.Len() != 0 {
				t.Errorf("304 with a body %q", rec.Body)
			}
		})
	}
}

// TestBridgeErrorClasses: the class of the tree's error decides the status,
// and the body is docker's {"message": ...} with the tree's message.
func TestBridgeErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"not found", errdefs.NotFound("no such process"), 404},
		{"invalid", errdefs.Invalid("kill: bad signal BOGUS"), 400},
		{"busy", errdefs.Busy("container web is paused"), 409},
		{"already exists", errdefs.AlreadyExists("name site is taken"), 409},
		{"permission", errdefs.New(errdefs.ErrPermission, "not allowed"), 403},
		{"unavailable", errdefs.Unavailable("the runtime is gone"), 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.ctl("containers/web/ctl", func(string) (string, error) { return "", tc.err })
			rec := f.do(t, "POST", "/containers/web/kill?signal=BOGUS", "")
			want := `{"message":"` + tc.err.Error() + `"}` + "\n"
			if rec.Code != tc.status || rec.Body.String() != want {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body.String(), tc.status, want)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
		})
	}
	t.Run("no such container", func(t *testing.T) {
		f := containerTree()
		for _, r := range []struct{ method, target string }{
			{"POST", "/containers/nosuch/kill"}, {"POST", "/containers/nosuch/stop"}, {"DELETE", "/containers/nosuch"},
			{"GET", "/containers/nosuch/json"}, {"POST", "/containers/nosuch/start"},
		} {
			rec := f.do(t, r.method, r.target, "")
			if want := `{"message":"No such container: nosuch"}` + "\n"; rec.Code != 404 || rec.Body.String() != want {
				t.Errorf("%s %s: %d %q, want 404 %q", r.method, r.target, rec.Code, rec.Body.String(), want)
			}
		}
	})
}

// psList is containers/list as the tree writes it, oldest first.
const psList = `[
{"Id":"aaaa000000000000000000000000000000000000000000000000000000000001","Names":["/db"],"Image":"postgres:16",
 "ImageID":"sha256:1111","Command":"docker-entrypoint.sh postgres","Created":1700000000,"State":"exited",
 "Status":"Exited (3) 2 hours ago","ExitCode":3,"Labels":{"app":"shop","tier":"db"},"Ports":[],"Mounts":[],
 "NetworkSettings":{"Networks":{}},"HostConfig":{"NetworkMode":"bridge"}},
{"Id":"bbbb000000000000000000000000000000000000000000000000000000000002","Names":["/web"],"Image":"nginx:alpine",
 "ImageID":"sha256:2222","Command":"nginx -g 'daemon off;'","Created":1700000100,"State":"running",
 "Status":"Up 2 hours (healthy)","ExitCode":0,"Health":"healthy","Labels":{"app":"shop","tier":"front"},
 "Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}],"Mounts":null,
 "NetworkSettings":null,"HostConfig":{"NetworkMode":""}},
{"Id":"cccc000000000000000000000000000000000000000000000000000000000003","Names":["/job"],"Image":"busybox",
 "ImageID":"sha256:3333","Command":"sh","Created":1700000200,"State":"created","Status":"Created","ExitCode":0,
 "Labels":null,"Ports":null,"Mounts":[],"NetworkSettings":{"Networks":{}},"HostConfig":{"NetworkMode":"none"}},
{"Id":"dddd000000000000000000000000000000000000000000000000000000000004","Names":["/cron"],"Image":"busybox:latest",
 "ImageID":"sha256:3333","Command":"crond -f","Created":1700000300,"State":"exited","Status":"Exited (0) 1 hour ago",
 "ExitCode":0,"Labels":{"app":"ops"},"Ports":[],"Mounts":[],"NetworkSettings":{"Networks":{}},"HostConfig":{"NetworkMode":"bridge"}}
]`

// TestBridgeListContainers: GET /containers/json is containers/list,
// newest first, running ones only without all, filtered as docker filters.
func TestBridgeListContainers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target string
		names  string // the names answered, in order
		status int
	}{
		{"running", "/containers/json", "/web", 200},
		{"all", "/containers/json?all=1", "/cron /job /web /db", 200},
		{"limit", "/containers/json?limit=2", "/cron /job", 200},
		{"label", query("/containers/json", "all", "1", "filters", `{"label":["app=shop"]}`), "/web /db", 200},
		{"label key", query("/containers/json", "all", "1", "filters", `{"label":["tier"]}`), "/web /db", 200},
		{"status", query("/containers/json", "filters", `{"status":["exited"]}`), "/cron /db", 200},
		{"exited code", query("/containers/json", "all", "1", "filters", `{"exited":["3"]}`), "/db", 200},
		{"name", query("/containers/json", "all", "1", "filters", `{"name":["we"]}`), "/web", 200},
		{"id prefix", query("/containers/json", "all", "1", "filters", `{"id":["cccc"]}`), "/job", 200},
		{"ancestor by name", query("/containers/json", "all", "1", "filters", `{"ancestor":["busybox"]}`), "/cron /job", 200},
		{"ancestor by id", query("/containers/json", "all", "1", "filters", `{"ancestor":["sha256:2222"]}`), "/web", 200},
		{"bad status", query("/containers/json", "filters", `{"status":["sleeping"]}`), "", 400},
		{"unknown filter", query("/containers/json", "filters", `{"bogus":["x"]}`), "", 400},
		{"health", query("/containers/json", "all", "1", "filters", `{"health":["healthy"]}`), "/web", 200},
		{"health none", query("/containers/json", "all", "1", "filters", `{"health":["none"]}`), "/cron /job /db", 200},
		{"bad health", query("/containers/json", "filters", `{"health":["sick"]}`), "", 400},
		{"bad limit", "/containers/json?limit=x", "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.file("containers/list", psList)
			rec := f.do(t, "GET", tc.target, "")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 200 {
				return
			}
			var got []container.Summary
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range got {
				names = append(names, c.Names...)
			}
			if strings.Join(names, " ") != tc.names {
				t.Errorf("names %q, want %q", strings.Join(names, " "), tc.names)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		// What the tree leaves null is docker's empty value.
		f := newFakeTree()
		f.file("containers/list", psList)
		rec := f.do(t, "GET", "/containers/json", "")
		want := `[{"Id":"bbbb000000000000000000000000000000000000000000000000000000000002","Names":["/web"],` +
			`"Image":"nginx:alpine","ImageID":"sha256:2222","Command":"nginx -g 'daemon off;'","Created":1700000100,` +
			`"Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}],"Labels":{"app":"shop","tier":"front"},` +
			`"State":"running","Status":"Up 2 hours (healthy)","HostConfig":{"NetworkMode":"default"},` +
			`"NetworkSettings":{"Networks":{}},"Mounts":[]}]` + "\n"
		if rec.Body.String() != want {
			t.Errorf("body\n%s\nwant\n%s", rec.Body, want)
		}
	})
}

// TestBridgeInspectContainer: GET /containers/{name}/json is the tree's
// inspect with docker's defaults for what it leaves out and the exec ids
// of the container's exec directory.
func TestBridgeInspectContainer(t *testing.T) {
	const id = "bbbb000000000000000000000000000000000000000000000000000000000002"
	f := newFakeTree()
	f.file("containers/web/inspect", `{"Id":"`+id+`","Name":"/web","State":{"Status":"running","Running":true,"Pid":42},
		"Config":{"Image":"nginx:alpine","Tty":true,"Labels":null},"HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}},
		"NetworkSettings":null,"Mounts":null}`)
	f.file("containers/"+id+"/exec/3/config", "{}")
	f.file("containers/"+id+"/exec/clone", "")
	f.file("containers/"+id+"/exec/12/config", "{}")
	rec := f.do(t, "GET", "/v1.50/containers/web/json", "")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var ir container.InspectResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &ir); err != nil {
		t.Fatal(err)
	}
	hc := ir.HostConfig
	checks := map[string][2]any{
		"Id":                   {ir.ID, id},
		"State.Pid":            {ir.State.Pid, 42},
		"Config.Tty":           {ir.Config.Tty, true},
		"Config.Labels":        {ir.Config.Labels, map[string]string{}},
		"HostConfig.Restart":   {hc.RestartPolicy.Name, container.RestartPolicyDisabled},
		"HostConfig.Network":   {hc.NetworkMode, container.NetworkMode("default")},
		"HostConfig.Cgroupns":  {hc.CgroupnsMode, container.CgroupnsModeHost},
		"HostConfig.LogConfig": {hc.LogConfig, container.LogConfig{Type: "json-file", Config: map[string]string{}}},
		"HostConfig.Ports":     {hc.PortBindings, nat.PortMap{"80/tcp": {{HostPort: "8080"}}}},
		"GraphDriver":          {ir.GraphDriver.Name, "overlay"},
		"Mounts":               {ir.Mounts, []container.MountPoint{}},
		"Networks":             {ir.NetworkSettings.Networks, map[string]*network.EndpointSettings{}},
		"Ports":                {ir.NetworkSettings.Ports, nat.PortMap{}},
		"ExecIDs":              {ir.ExecIDs, []string{id[:56] + "0000000c", id[:56] + "00000003"}},
	}
	for what, c := range checks {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("%s = %#v, want %#v", what, c[0], c[1])
		}
	}
}

// TestBridgeWait: the condition not-running answers a stopped container's
// exit code from inspect; next-exit reads the wait file (wait.next for an
// exited container).
func TestBridgeWait(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		status       string
		want         string
	}{
		{"not running, exited", "/containers/db/wait", "exited code=3 started=x finished=y\n", `{"StatusCode":3}` + "\n"},
		{"next exit of a running container", "/containers/db/wait?condition=next-exit", "running pid=1 started=x\n", `{"StatusCode":7}` + "\n"},
		{"next exit of an exited container", "/containers/db/wait?condition=next-exit", "exited code=3 started=x finished=y\n", `{"StatusCode":9}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.file("containers/db/status", tc.status)
			f.file("containers/db/inspect", `{"Id":"db1","State":{"Status":"exited","ExitCode":3}}`)
			f.file("containers/db/wait", "7\n")
			f.file("containers/db/wait.next", "9\n")
			rec := f.do(t, "POST", tc.target, "")
			if rec.Code != 200 || rec.Body.String() != tc.want {
				t.Errorf("answer %d %q, want 200 %q", rec.Code, rec.Body.String(), tc.want)
			}
		})
	}
	f := newFakeTree()
	f.file("containers/db/status", "exited code=0\n")
	if rec := f.do(t, "POST", "/containers/db/wait?condition=whenever", ""); rec.Code != 400 {
		t.Errorf("a bad condition: %d %s", rec.Code, rec.Body)
	}
}

// TestBridgeLogs: the options line written to the logs file follows the
// query; without a terminal the frames pass as they are, with one they are
// stripped.
func TestBridgeLogs(t *testing.T) {
	framed := string(frame(1, "out\n")) + string(frame(2, "err\n"))
	for _, tc := range []struct {
		name, target string
		tty          bool
		line         string
		contentType  string
		body         string
	}{
		{"docker logs -f", "/v1.50/containers/web/logs?follow=1&stderr=1&stdout=1&tail=all", false,
			"logs tail=all follow=true format=framed", "application/vnd.docker.multiplexed-stream", framed},
		{"stdout, a tail and times", "/v1.50/containers/web/logs?stdout=1&tail=10&since=1700000000&until=0&timestamps=1", false,
			"logs stderr=false timestamps=true tail=10 since=1700000000 format=framed", "application/vnd.docker.multiplexed-stream", framed},
		{"a bad tail is all", "/v1.41/containers/web/logs?stdout=1&stderr=1&tail=-3", false,
			"logs tail=all format=framed", "application/vnd.docker.raw-stream", framed},
		{"with a terminal", "/v1.50/containers/web/logs?stdout=1&stderr=1", true,
			"logs tail=all format=framed", "application/vnd.docker.raw-stream", "out\nerr\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			tty := "false"
			if tc.tty {
				tty = "true"
			}
			f.file("containers/web/inspect", `{"Id":"web1","State":{"Status":"running"},"Config":{"Tty":`+tty+`}}`)
			f.optsFile("containers/web1/logs", framed)
			rec := f.do(t, "GET", tc.target, "")
			sameLines(t, "logs", f.recorded(), []string{"containers/web1/logs: " + tc.line})
			if rec.Code != 200 || rec.Body.String() != tc.body || rec.Header().Get("Content-Type") != tc.contentType {
				t.Errorf("answer %d %q %q, want 200 %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), tc.contentType, tc.body)
			}
		})
	}
	f := newFakeTree()
	if rec := f.do(t, "GET", "/containers/web/logs", ""); rec.Code != 400 ||
		rec.Body.String() != `{"message":"Bad parameters: you must choose at least one stream"}`+"\n" {
		t.Errorf("no stream: %d %q", rec.Code, rec.Body)
	}
}

// TestBridgeCreateRoundTrip: the mounts of a create line are those the
// request asked for, field by field (a mount that lost an option would be
// a different line).
func TestBridgeCreateRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    mount.Mount
		want string
	}{
		{"bind", mount.Mount{Type: mount.TypeBind, Source: "/srv", Target: "/s", ReadOnly: true,
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRShared}}, "mount=type=bind,dst=/s,src=/srv,readonly,bind-propagation=rshared"},
		{"tmpfs", mount.Mount{Type: mount.TypeTmpfs, Target: "/t"}, "mount=type=tmpfs,dst=/t"},
		{"volume with labels", mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/v",
			VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{"b": "2", "a": "1"}}}, "mount=type=volume,dst=/v,src=v,volume-label=a=1,volume-label=b=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(container.CreateRequest{Config: &container.Config{Image: "busybox"},
				HostConfig: &container.HostConfig{Mounts: []mount.Mount{tc.m}}})
			f := newFakeTree()
			f.ctl("containers/ctl", func(string) (string, error) { return "c1", nil })
			f.do(t, "POST", "/containers/create", string(body))
			sameLines(t, "create", f.recorded(), []string{"containers/ctl: create image=busybox " + tc.want})
		})
	}
}

// TestBridgeExec: an exec is made through the container's exec/clone with
// a create line; docker's exec id names the tree's exec directory.
func TestBridgeExec(t *testing.T) {
	cid := strings.Repeat("e", 64)
	eid := cid[:56] + "00000002"
	dir := "containers/" + cid[:56] + "/exec/2/"
	newTree := func(state string) *fakeTree {
		f := newFakeTree()
		f.file("containers/web/inspect", `{"Id":"`+cid+`","State":`+state+`}`)
		f.file("containers/"+cid[:56]+"/inspect", `{"Id":"`+cid+`","State":`+state+`}`)
		f.clone("containers/"+cid+"/exec/clone", "2", nil)
		f.file(dir+"config", `{"Cmd":["sh","-c","date"],"User":"app","Tty":false,"OpenStdin":false}`)
		f.file(dir+"status", "exited code=3\n")
		f.ctl(dir+"ctl", nil)
		return f
	}
	running := `{"Status":"running","Running":true}`
	for _, tc := range []struct {
		name, state, method, target, body string
		lines                             []string
		status                            int
		reply                             string
	}{
		{"create", running, "POST", "/v1.50/containers/web/exec",
			`{"User":"app","Privileged":false,"Tty":false,"ConsoleSize":[50,200],"AttachStdin":false,"AttachStderr":true,` +
				`"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":["A=1"],"WorkingDir":"/w","Cmd":["sh","-c","date"]}`,
			[]string{"containers/" + cid + "/exec/clone: create user=app workdir=/w env=A=1 -- sh -c date"}, 201, `{"Id":"` + eid + `"}` + "\n"},
		{"create with a terminal and stdin", running, "POST", "/containers/web/exec",
			`{"Tty":true,"AttachStdin":true,"Cmd":["sh"]}`,
			[]string{"containers/" + cid + "/exec/clone: create tty=true stdin=true -- sh"}, 201, `{"Id":"` + eid + `"}` + "\n"},
		{"create without a command", running, "POST", "/containers/web/exec", `{"Cmd":[]}`, nil, 400,
			`{"message":"No exec command specified"}` + "\n"},
		{"create in a paused container", `{"Status":"paused","Running":true,"Paused":true}`, "POST", "/containers/web/exec",
			`{"Cmd":["sh"]}`, nil, 409, `{"message":"Container ` + cid + ` is paused, unpause the container before exec"}` + "\n"},
		{"create in a stopped container", `{"Status":"exited"}`, "POST", "/containers/web/exec",
			`{"Cmd":["sh"]}`, nil, 409, `{"message":"Container ` + cid + ` is not running"}` + "\n"},
		{"start detached", running, "POST", "/exec/" + eid + "/start", `{"Detach":true,"Tty":false}`,
			[]string{dir + "ctl: start"}, 200, ""},
		{"resize", running, "POST", "/exec/" + eid + "/resize?h=10&w=20", "", []string{dir + "ctl: resize 10 20"}, 200, ""},
		{"inspect", running, "GET", "/exec/" + eid + "/json", "", nil, 200,
			`{"ID":"` + eid + `","Running":false,"ExitCode":3,"ProcessConfig":{"tty":false,"entrypoint":"sh","arguments":["-c","date"],` +
				`"user":"app"},"OpenStdin":false,"OpenStderr":true,"OpenStdout":true,"CanRemove":false,` +
				`"ContainerID":"` + cid + `","DetachKeys":"","Pid":0}` + "\n"},
		{"inspect of another exec", running, "GET", "/exec/" + cid[:56] + "00000009/json", "", nil, 404,
			`{"message":"No such exec instance: ` + cid[:56] + `00000009"}` + "\n"},
		{"inspect of a bad id", running, "GET", "/exec/xyz/json", "", nil, 404, `{"message":"No such exec instance: xyz"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTree(tc.state)
			rec := f.do(t, tc.method, tc.target, tc.body)
			sameLines(t, tc.target, f.recorded(), tc.lines)
			if rec.Code != tc.status || rec.Body.String() != tc.reply {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.reply)
			}
		})
	}
}
