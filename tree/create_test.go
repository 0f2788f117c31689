package tree

import (
	"errors"
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
)

func createConfig(t *testing.T, line string) (string, engine.Config, error) {
	t.Helper()
	v, err := verbs.Containers.Parse(line)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return configFromCreate(v.(verbs.Create))
}

// TestConfigFromCreate: each key of a create line lands in the engine's
// config.
func TestConfigFromCreate(t *testing.T) {
	name, cfg, err := createConfig(t, "create image=busybox name=web env=A=1 env=B workdir=/w hostname=h user=u:g "+
		"group-add=10 entrypoint=/bin/sh entrypoint=-c rm=true tty=true stdin=true stdin-once=true stop-signal=INT "+
		"stop-timeout=3 restart=on-failure:2 runtime=runc memory=64m memory-swap=-1 memory-reservation=1k cpus=1.5 "+
		"cpu-shares=512 cpu-quota=5000 cpu-period=10000 cpuset-cpus=0-1 pids-limit=50 cap-add=NET_ADMIN cap-drop=ALL "+
		"privileged=true read-only=true security-opt=no-new-privileges ulimit=nofile=10:20 shm-size=1m label=a=b "+
		"console-size=30x100 network=app ip=10.0.0.5 alias=www publish=127.0.0.1:8080:80 publish-all=true expose=53/udp "+
		"volume=data:/data mount=type=tmpfs,dst=/t tmpfs=/u:size=1m volumes-from=other:ro volume-driver=local -- echo hi")
	if err != nil {
		t.Fatal(err)
	}
	stop, pids := 3, int64(50)
	want := engine.Config{
		Image: "busybox", Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"echo", "hi"}, Env: []string{"A=1", "B"},
		WorkingDir: "/w", Hostname: "h", User: "u:g", GroupAdd: []string{"10"}, Labels: map[string]string{"a": "b"},
		Tty: true, OpenStdin: true, StdinOnce: true, ConsoleSize: [2]uint{30, 100}, StopSignal: "INT", StopTimeout: &stop,
		AutoRemove: true, RestartPolicy: engine.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, Runtime: "runc",
		Resources: engine.Resources{Memory: 64 << 20, MemorySwap: -1, MemoryReservation: 1024, NanoCPUs: 1500000000,
			CPUShares: 512, CPUQuota: 5000, CPUPeriod: 10000, CpusetCpus: "0-1", PidsLimit: &pids},
		CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}, Privileged: true, ReadonlyRootfs: true,
		SecurityOpt: []string{"no-new-privileges"}, Ulimits: []engine.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}}, ShmSize: 1 << 20,
		Networking: engine.Networking{NetworkMode: "app",
			EndpointsConfig: map[string]*network.EndpointSettings{"app": {Aliases: []string{"www"}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: "10.0.0.5"}}},
			ExposedPorts:    nat.PortSet{"80/tcp": {}, "53/udp": {}},
			PortBindings:    nat.PortMap{"80/tcp": {{HostIP: "127.0.0.1", HostPort: "8080"}}}, PublishAllPorts: true},
		Storage: engine.Storage{Binds: []string{"data:/data"}, Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/t"}},
			Tmpfs: map[string]string{"/u": "size=1m"}, VolumesFrom: []string{"other:ro"}, VolumeDriver: "local"},
	}
	if name != "web" || !reflect.DeepEqual(cfg, want) {
		t.Errorf("configFromCreate = %q\n%+v\nwant\n%+v", name, cfg, want)
	}
	// entrypoint= clears the image's; no key leaves the config's zero.
	if _, cfg, err := createConfig(t, "create image=busybox entrypoint="); err != nil || cfg.Entrypoint == nil || len(cfg.Entrypoint) != 0 {
		t.Errorf("entrypoint= gives %#v, %v", cfg.Entrypoint, err)
	}
	if _, cfg, err := createConfig(t, "create image=busybox"); err != nil || !reflect.DeepEqual(cfg, engine.Config{Image: "busybox"}) {
		t.Errorf("create image=busybox gives %+v, %v", cfg, err)
	}
}

// TestConfigFromCreateErrors: a bad value is EINVAL naming it.
func TestConfigFromCreateErrors(t *testing.T) {
	for _, tc := range []struct{ opt, word string }{
		{"memory=lots", "memory=lots"}, {"memory-swap=x", "memory-swap=x"}, {"cpus=0", "cpus=0"}, {"cpu-shares=x", "cpu-shares=x"},
		{"stop-timeout=soon", "stop-timeout=soon"}, {"pids-limit=many", "pids-limit=many"}, {"restart=on-failure:x", "restart=on-failure:x"},
		{"console-size=30", "console-size=30"}, {"shm-size=-2", "shm-size=-2"},
	} {
		_, _, err := createConfig(t, "create image=busybox "+tc.opt)
		var e *ctl.Error
		if !errors.As(err, &e) || e.Word != tc.word || e.Msg != "bad value" {
			t.Errorf("%s: %v, want a bad value naming %q", tc.opt, err, tc.word)
		}
	}
	for _, opt := range []string{"ulimit=nofile", "publish=70000:80", "expose=x", "mount=type=nfs,dst=/x", "ip=10.0.0.5", "alias=a"} {
		if _, _, err := createConfig(t, "create image=busybox "+opt); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: %v, want invalid", opt, err)
		}
	}
}
