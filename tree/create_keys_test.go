package tree

import (
	"reflect"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/ctl/verbs"
)

// createSamples holds, for every key of verbs.Create, a valid value.
// TestEveryCreateKeyLands fails for a key missing here: a new key needs a
// sample, and then a mapping in configFromCreate, or create would take it
// and drop it.
var createSamples = map[string]string{
	"image": "busybox", "name": "web", "env": "A=1", "workdir": "/w", "hostname": "h", "user": "1:2",
	"group-add": "wheel", "entrypoint": "/bin/x", "rm": "true", "tty": "true", "stdin": "true", "stdin-once": "true",
	"stop-signal": "SIGINT", "stop-timeout": "3", "restart": "on-failure:2", "runtime": "runc",
	"memory": "64m", "memory-swap": "128m", "memory-reservation": "32m", "cpus": "0.5", "cpu-shares": "512",
	"cpu-quota": "50000", "cpu-period": "100000", "cpu-rt-runtime": "950000", "cpu-rt-period": "1000000", "cpuset-cpus": "0", "pids-limit": "10",
	"cap-add": "NET_ADMIN", "cap-drop": "CHOWN", "privileged": "true", "read-only": "true",
	"security-opt": "no-new-privileges", "sysctl": "net.ipv4.ip_forward=1", "userns": "host", "masked-path": "/proc/version",
	"readonly-path": "/proc/cmdline", "ulimit": "nofile=10:20", "shm-size": "8m", "label": "k=v",
	"console-size": "24x80", "network": "net1", "ip": "10.0.0.2", "alias": "www",
	"publish": "8080:80", "publish-all": "true", "expose": "81", "link": "web:w", "volume": "data:/data", "mount": "type=tmpfs,dst=/t",
	"tmpfs": "/tmp2:size=1m", "volumes-from": "other", "volume-driver": "plugin",
	"health-cmd": "true", "health-interval": "1s", "health-timeout": "2s", "health-retries": "4",
	"health-start-period": "3s", "health-start-interval": "500ms", "no-healthcheck": "true",
	"health-test": "CMD",
	"add-host":    "db:10.0.0.9", "dns": "10.0.0.53", "dns-search": "example.org", "dns-option": "ndots:2",
	"init": "true", "pid": "host", "uts": "host", "ipc": "host",
	"device": "/dev/null:/dev/xnull", "device-cgroup-rule": "c 1:3 rwm", "cgroupns": "private",
	"mac-address": "02:42:ac:11:00:99",
	"log-driver":  "local", "log-opt": "max-size=1m",
}

// TestEveryCreateKeyLands: each key of the create line, set alone (on top
// of what it needs: ip= and alias= need network=), changes the name or
// the config create makes: no key is taken and dropped.
func TestEveryCreateKeyLands(t *testing.T) {
	spec := verbs.Spec(verbs.Create{})
	base := verbs.Create{Image: "busybox", Network: "net1"}
	baseName, baseCfg, err := configFromCreate(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range spec.Keys {
		t.Run(key, func(t *testing.T) {
			sample, ok := createSamples[key]
			if !ok {
				t.Fatalf("no sample value for create key %s: add one to createSamples and map the key in configFromCreate", key)
			}
			c := base
			if key == "image" {
				sample = "other:1"
			}
			if key == "network" {
				sample = "net2"
			}
			if err := setCreateKey(&c, key, sample); err != nil {
				t.Fatal(err)
			}
			name, cfg, err := configFromCreate(c)
			if err != nil {
				t.Fatalf("%s=%s: %v", key, sample, err)
			}
			if name == baseName && reflect.DeepEqual(cfg, baseCfg) {
				t.Errorf("%s=%s changes nothing in the container's config: the key is taken and dropped", key, sample)
			}
		})
	}
	for k := range createSamples {
		if !strings.Contains(" "+strings.Join(spec.Keys, " ")+" ", " "+k+" ") {
			t.Errorf("createSamples has %s, which create does not take", k)
		}
	}
}

// setCreateKey sets the field of c whose ctl tag is key.
func setCreateKey(c *verbs.Create, key, value string) error {
	v := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("ctl"), ",")
		if tag != key {
			continue
		}
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(value)
		case reflect.Bool:
			f.SetBool(value == "true")
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{value}))
		}
		return nil
	}
	return nil
}
