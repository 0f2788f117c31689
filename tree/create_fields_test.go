package tree

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
)

// TestCreateKeyFields: each key of the create line, alone, sets its field of
// the engine's config and nothing else. Every key of verbs.Create has a
// case: a key added to the grammar without its mapping fails here.
func TestCreateKeyFields(t *testing.T) {
	three, fifty := 3, int64(50)
	cases := []struct {
		key, words string // words: the key's words on the line
		want       func(c *engine.Config)
	}{
		{"image", "", func(c *engine.Config) {}},
		{"name", "name=web", func(c *engine.Config) {}},
		{"env", "env=A=1 env=B", func(c *engine.Config) { c.Env = []string{"A=1", "B"} }},
		{"workdir", "workdir=/w", func(c *engine.Config) { c.WorkingDir = "/w" }},
		{"hostname", "hostname=h", func(c *engine.Config) { c.Hostname = "h" }},
		{"user", "user=u:g", func(c *engine.Config) { c.User = "u:g" }},
		{"group-add", "group-add=10 group-add=wheel", func(c *engine.Config) { c.GroupAdd = []string{"10", "wheel"} }},
		{"entrypoint", "entrypoint=/bin/sh", func(c *engine.Config) { c.Entrypoint = []string{"/bin/sh"} }},
		{"rm", "rm=true", func(c *engine.Config) { c.AutoRemove = true }},
		{"tty", "tty=true", func(c *engine.Config) { c.Tty = true }},
		{"stdin", "stdin=true", func(c *engine.Config) { c.OpenStdin = true }},
		{"stdin-once", "stdin-once=true", func(c *engine.Config) { c.StdinOnce = true }},
		{"stop-signal", "stop-signal=SIGINT", func(c *engine.Config) { c.StopSignal = "SIGINT" }},
		{"stop-timeout", "stop-timeout=3", func(c *engine.Config) { c.StopTimeout = &three }},
		{"restart", "restart=always", func(c *engine.Config) { c.RestartPolicy = engine.RestartPolicy{Name: "always"} }},
		{"runtime", "runtime=runc", func(c *engine.Config) { c.Runtime = "runc" }},
		{"memory", "memory=64m", func(c *engine.Config) { c.Memory = 64 << 20 }},
		{"memory-swap", "memory-swap=1g", func(c *engine.Config) { c.MemorySwap = 1 << 30 }},
		{"memory-reservation", "memory-reservation=512k", func(c *engine.Config) { c.MemoryReservation = 512 << 10 }},
		{"cpus", "cpus=0.25", func(c *engine.Config) { c.NanoCPUs = 250000000 }},
		{"cpu-shares", "cpu-shares=512", func(c *engine.Config) { c.CPUShares = 512 }},
		{"cpu-quota", "cpu-quota=5000", func(c *engine.Config) { c.CPUQuota = 5000 }},
		{"cpu-period", "cpu-period=10000", func(c *engine.Config) { c.CPUPeriod = 10000 }},
		{"cpu-rt-runtime", "cpu-rt-runtime=950000", func(c *engine.Config) { c.CPURealtimeRuntime = 950000 }},
		{"cpu-rt-period", "cpu-rt-period=1000000", func(c *engine.Config) { c.CPURealtimePeriod = 1000000 }},
		{"cpuset-cpus", "cpuset-cpus=0,2", func(c *engine.Config) { c.CpusetCpus = "0,2" }},
		{"pids-limit", "pids-limit=50", func(c *engine.Config) { c.PidsLimit = &fifty }},
		{"cap-add", "cap-add=NET_ADMIN cap-add=SYS_TIME", func(c *engine.Config) { c.CapAdd = []string{"NET_ADMIN", "SYS_TIME"} }},
		{"cap-drop", "cap-drop=ALL", func(c *engine.Config) { c.CapDrop = []string{"ALL"} }},
		{"privileged", "privileged=true", func(c *engine.Config) { c.Privileged = true }},
		{"read-only", "read-only=true", func(c *engine.Config) { c.ReadonlyRootfs = true }},
		{"security-opt", "security-opt=no-new-privileges", func(c *engine.Config) { c.SecurityOpt = []string{"no-new-privileges"} }},
		{"sysctl", "sysctl=net.ipv4.ip_forward=1 sysctl=kernel.shmmax=1024", func(c *engine.Config) {
			c.Sysctls = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1024"}
		}},
		{"masked-path", "masked-path=/proc/version masked-path=/proc/cmdline", func(c *engine.Config) {
			c.MaskedPaths = []string{"/proc/version", "/proc/cmdline"}
		}},
		{"readonly-path", "readonly-path=", func(c *engine.Config) { c.ReadonlyPaths = []string{} }},
		{"userns", "userns=host", func(c *engine.Config) { c.UsernsMode = "host" }},
		{"log-driver", "log-driver=local", func(c *engine.Config) {
			c.LogConfig = &engine.LogConfig{Type: "local", Config: map[string]string{}}
		}},
		{"log-opt", "log-driver=json-file log-opt=max-size=1m log-opt=max-file=3", func(c *engine.Config) {
			c.LogConfig = &engine.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "3"}}
		}},
		{"ulimit", "ulimit=nofile=10:20 ulimit=nproc=5", func(c *engine.Config) {
			c.Ulimits = []engine.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}, {Name: "nproc", Soft: 5, Hard: 5}}
		}},
		{"shm-size", "shm-size=1m", func(c *engine.Config) { c.ShmSize = 1 << 20 }},
		{"label", "label=a=b=c label=empty= label=bare", func(c *engine.Config) {
			c.Labels = map[string]string{"a": "b=c", "empty": "", "bare": ""}
		}},
		{"console-size", "console-size=30x100", func(c *engine.Config) { c.ConsoleSize = [2]uint{30, 100} }},
		{"network", "network=app", func(c *engine.Config) { c.NetworkMode = "app" }},
		{"ip", "network=app ip=10.0.0.5", func(c *engine.Config) {
			c.NetworkMode = "app"
			c.EndpointsConfig = map[string]*network.EndpointSettings{"app": {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: "10.0.0.5"}}}
		}},
		{"alias", "network=app alias=www alias=w", func(c *engine.Config) {
			c.NetworkMode = "app"
			c.EndpointsConfig = map[string]*network.EndpointSettings{"app": {Aliases: []string{"www", "w"}}}
		}},
		{"publish", "publish=8080:80 publish=127.0.0.1::53/udp publish=8081:80", func(c *engine.Config) {
			c.ExposedPorts = nat.PortSet{"80/tcp": {}, "53/udp": {}}
			c.PortBindings = nat.PortMap{"80/tcp": {{HostPort: "8080"}, {HostPort: "8081"}}, "53/udp": {{HostIP: "127.0.0.1"}}}
		}},
		{"publish-all", "publish-all=true", func(c *engine.Config) { c.PublishAllPorts = true }},
		{"expose", "expose=53/udp expose=8000-8001", func(c *engine.Config) {
			c.ExposedPorts = nat.PortSet{"53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
		}},
		{"link", "link=web:w link=db", func(c *engine.Config) { c.Links = []string{"web:w", "db"} }},
		{"volume", "volume=data:/data volume=/anon", func(c *engine.Config) { c.Binds = []string{"data:/data", "/anon"} }},
		{"mount", "mount=type=bind,src=/srv,dst=/s,readonly", func(c *engine.Config) {
			c.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: "/srv", Target: "/s", ReadOnly: true}}
		}},
		{"tmpfs", "tmpfs=/t:size=1m,mode=1777 tmpfs=/u", func(c *engine.Config) {
			c.Tmpfs = map[string]string{"/t": "size=1m,mode=1777", "/u": ""}
		}},
		{"volumes-from", "volumes-from=other:ro", func(c *engine.Config) { c.VolumesFrom = []string{"other:ro"} }},
		{"volume-driver", "volume-driver=local", func(c *engine.Config) { c.VolumeDriver = "local" }},
		{"health-cmd", "health-cmd='curl -f localhost'", func(c *engine.Config) {
			c.Healthcheck = &engine.HealthConfig{Test: []string{"CMD-SHELL", "curl -f localhost"}}
		}},
		{"health-interval", "health-interval=1s", func(c *engine.Config) { c.Healthcheck = &engine.HealthConfig{Interval: time.Second} }},
		{"health-timeout", "health-timeout=2s", func(c *engine.Config) { c.Healthcheck = &engine.HealthConfig{Timeout: 2 * time.Second} }},
		{"health-retries", "health-retries=4", func(c *engine.Config) { c.Healthcheck = &engine.HealthConfig{Retries: 4} }},
		{"health-start-period", "health-start-period=1m", func(c *engine.Config) { c.Healthcheck = &engine.HealthConfig{StartPeriod: time.Minute} }},
		{"health-start-interval", "health-start-interval=500ms", func(c *engine.Config) {
			c.Healthcheck = &engine.HealthConfig{StartInterval: 500 * time.Millisecond}
		}},
		{"health-test", "health-test=CMD health-test=pg_isready health-test='-U x'", func(c *engine.Config) {
			c.Healthcheck = &engine.HealthConfig{Test: []string{"CMD", "pg_isready", "-U x"}}
		}},
		{"no-healthcheck", "no-healthcheck=true", func(c *engine.Config) { c.Healthcheck = &engine.HealthConfig{Test: []string{"NONE"}} }},
		{"add-host", "add-host=db:10.0.0.9 add-host=gw:host-gateway", func(c *engine.Config) {
			c.ExtraHosts = []string{"db:10.0.0.9", "gw:host-gateway"}
		}},
		{"dns", "dns=10.0.0.53 dns=10.0.0.54", func(c *engine.Config) { c.DNS = []string{"10.0.0.53", "10.0.0.54"} }},
		{"dns-search", "dns-search=example.org", func(c *engine.Config) { c.DNSSearch = []string{"example.org"} }},
		{"dns-option", "dns-option=ndots:2 dns-option=rotate", func(c *engine.Config) { c.DNSOptions = []string{"ndots:2", "rotate"} }},
		{"init", "init=true", func(c *engine.Config) { c.Init = true }},
		{"pid", "pid=host", func(c *engine.Config) { c.PidMode = "host" }},
		{"uts", "uts=host", func(c *engine.Config) { c.UTSMode = "host" }},
		{"ipc", "ipc=private", func(c *engine.Config) { c.IpcMode = "private" }},
		{"mac-address", "mac-address=02:42:ac:11:00:99", func(c *engine.Config) { c.MacAddress = "02:42:ac:11:00:99" }},
		{"cgroupns", "cgroupns=private", func(c *engine.Config) { c.CgroupnsMode = "private" }},
		{"device", "device=/dev/null:/dev/xnull:r device=/dev/zero", func(c *engine.Config) {
			c.Devices = []engine.DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/xnull", CgroupPermissions: "r"},
				{PathOnHost: "/dev/zero", PathInContainer: "/dev/zero", CgroupPermissions: "rwm"}}
		}},
		{"device-cgroup-rule", "device-cgroup-rule='c 1:3 rwm'", func(c *engine.Config) { c.DeviceCgroupRules = []string{"c 1:3 rwm"} }},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.key] = true
		t.Run(tc.key, func(t *testing.T) {
			name, cfg, err := createConfig(t, "create image=busybox "+tc.words+" -- sh")
			if err != nil {
				t.Fatal(err)
			}
			want := engine.Config{Image: "busybox", Cmd: []string{"sh"}}
			tc.want(&want)
			if !reflect.DeepEqual(cfg, want) {
				t.Errorf("%s gives\n%+v\nwant\n%+v", tc.words, cfg, want)
			}
			if wantName := map[bool]string{true: "web"}[tc.key == "name"]; name != wantName {
				t.Errorf("name %q, want %q", name, wantName)
			}
		})
	}
	for _, k := range verbs.Spec(verbs.Create{}).Keys {
		if !covered[k] {
			t.Errorf("the create key %s= has no case here", k)
		}
	}
}

// TestCreateBadValues: a value that does not read is ErrInvalid, and the
// message names the key and the value.
func TestCreateBadValues(t *testing.T) {
	for _, tc := range []struct {
		words string
		want  string // in the message
	}{
		{"memory=lots", `"memory=lots"`},
		{"memory-swap=1x", `"memory-swap=1x"`},
		{"memory-reservation=-", `"memory-reservation=-"`},
		{"shm-size=-2", `"shm-size=-2"`},
		{"cpus=many", `"cpus=many"`},
		{"cpus=0", `"cpus=0"`},
		{"cpu-shares=1.5", `"cpu-shares=1.5"`},
		{"cpu-quota=q", `"cpu-quota=q"`},
		{"cpu-period=p", `"cpu-period=p"`},
		{"pids-limit=all", `"pids-limit=all"`},
		{"stop-timeout=10s", `"stop-timeout=10s"`},
		{"restart=on-failure:x", `"restart=on-failure:x"`},
		{"console-size=30", `"console-size=30"`},
		{"console-size=0x10", `"console-size=0x10"`},
		{"ulimit=nofile", `"nofile"`},
		{"ulimit=nofile=a:b", `"nofile=a:b"`},
		{"publish=70000:80", `"70000:80"`},
		{"expose=x", `"x"`},
		{"mount=type=nfs,dst=/x", `"nfs"`},
		{"mount=dst=/x,bogus=1", `"dst=/x,bogus=1"`},
		{"ip=10.0.0.5", "network="},
		{"alias=a", "network="},
		{"tty=maybe", `"tty=maybe"`},
		{"health-interval=often", `"health-interval=often"`},
		{"health-timeout=-1s", "--health-timeout cannot be negative"},
		{"health-retries=x", `"health-retries=x"`},
		{"no-healthcheck=true health-cmd=true", "--no-healthcheck conflicts with --health-* options"},
	} {
		t.Run(tc.words, func(t *testing.T) {
			err := createError(t, "create image=busybox "+tc.words)
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want an invalid argument naming %s", err, tc.want)
			}
		})
	}
}

// createError is the error of a create line, from the grammar or from
// configFromCreate.
func createError(t *testing.T, line string) error {
	t.Helper()
	v, err := verbs.Containers.Parse(line)
	if err != nil {
		return err
	}
	_, _, err = configFromCreate(v.(verbs.Create))
	return err
}

// TestCreateEntrypoint: entrypoint= clears the image's; repeated, it is the
// words of a longer one; absent, the image's stays (nil).
func TestCreateEntrypoint(t *testing.T) {
	for _, tc := range []struct {
		words string
		want  []string
	}{
		{"", nil},
		{"entrypoint=", []string{}},
		{"entrypoint=/bin/sh entrypoint=-c", []string{"/bin/sh", "-c"}},
		{"entrypoint= entrypoint=x", []string{"", "x"}},
	} {
		t.Run(tc.words, func(t *testing.T) {
			_, cfg, err := createConfig(t, "create image=busybox "+tc.words)
			if err != nil || !reflect.DeepEqual(cfg.Entrypoint, tc.want) || (tc.want != nil) != (cfg.Entrypoint != nil) {
				t.Errorf("entrypoint %#v, %v; want %#v", cfg.Entrypoint, err, tc.want)
			}
		})
	}
}
