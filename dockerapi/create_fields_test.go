package dockerapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
)

// fieldNames are the Go names of struct type t's fields, those of the
// structs it embeds included.
func fieldNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, fieldNames(f.Type)...)
			continue
		}
		out = append(out, f.Name)
	}
	return out
}

// TestCreateFieldsListed checks that every field of docker's create body
// is in the bridge's table (mapped, refused or ignored with a reason), and
// that the table names no field docker does not have: a field a new
// docker adds fails here until someone decides what it does.
func TestCreateFieldsListed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		typ   reflect.Type
		rules map[string]fieldRule
	}{
		{"Config", reflect.TypeOf(container.Config{}), configFields},
		{"HostConfig", reflect.TypeOf(container.HostConfig{}), hostConfigFields},
		{"EndpointSettings", reflect.TypeOf(network.EndpointSettings{}), endpointFields},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			for _, f := range fieldNames(tc.typ) {
				seen[f] = true
				r, ok := tc.rules[f]
				if !ok {
					t.Errorf("%s.%s is not in the table: map it, refuse it or say why it is ignored", tc.name, f)
					continue
				}
				if r.use != mapped && r.why == "" {
					t.Errorf("%s.%s is refused or ignored without a reason", tc.name, f)
				}
			}
			for f := range tc.rules {
				if !seen[f] {
					t.Errorf("the table lists %s.%s, which docker's struct does not have", tc.name, f)
				}
			}
		})
	}
}

// cliCreateBody is what the docker CLI 28 sends for `docker create
// busybox true`: every default it fills in must pass.
const cliCreateBody = `{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,
"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["true"],"Image":"busybox","Volumes":{},"WorkingDir":"",
"Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},
"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"",
"VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],
"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,
"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"",
"CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],
"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,
"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,
"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,
"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},
"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,
"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"",
"GlobalIPv6PrefixLen":0,"DNSNames":null}}}}`

// TestCreateFieldsRefused checks that a create body setting a field the
// bridge does not map is refused as invalid, naming the field, and that
// the docker CLI's defaults pass.
func TestCreateFieldsRefused(t *testing.T) {
	var base container.CreateRequest
	if err := json.Unmarshal([]byte(cliCreateBody), &base); err != nil {
		t.Fatal(err)
	}
	if _, err := createVerb("", base); err != nil {
		t.Fatalf("the docker CLI's default create body: %v", err)
	}
	tru := true
	zero := int64(0)
	for _, tc := range []struct {
		name  string
		set   func(*container.CreateRequest)
		field string
	}{
		{"blkio-weight", func(r *container.CreateRequest) { r.HostConfig.BlkioWeight = 300 }, "HostConfig.BlkioWeight=300"},
		{"kernel-memory-tcp", func(r *container.CreateRequest) { r.HostConfig.KernelMemoryTCP = 1 << 20 }, "HostConfig.KernelMemoryTCP=1048576"},
		{"oom-kill-disable", func(r *container.CreateRequest) { r.HostConfig.OomKillDisable = &tru }, "HostConfig.OomKillDisable=true"},
		{"swappiness", func(r *container.CreateRequest) { r.HostConfig.MemorySwappiness = &zero }, "HostConfig.MemorySwappiness=0"},
		{"domainname", func(r *container.CreateRequest) { r.Config.Domainname = "example.org" }, "Config.Domainname=example.org"},
		{"driver-opts", func(r *container.CreateRequest) {
			r.NetworkingConfig.EndpointsConfig["default"].DriverOpts = map[string]string{"x": "y"}
		}, "EndpointsConfig[default].DriverOpts="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req container.CreateRequest
			if err := json.Unmarshal([]byte(cliCreateBody), &req); err != nil {
				t.Fatal(err)
			}
			tc.set(&req)
			_, err := createVerb("", req)
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("createVerb: %v; want an invalid-argument error naming %s", err, tc.field)
			}
		})
	}
}

// TestConnectFieldsRefused: a connect's endpoint with a field the connect
// line cannot carry is refused, naming it.
func TestConnectFieldsRefused(t *testing.T) {
	for _, tc := range []struct {
		es   network.EndpointSettings
		want string
	}{
		{network.EndpointSettings{DriverOpts: map[string]string{"com.example.x": "1"}}, "EndpointsConfig[c1].DriverOpts="},
		{network.EndpointSettings{MacAddress: "02:42:ac:11:00:99"}, "EndpointConfig.MacAddress=02:42:ac:11:00:99"},
		{network.EndpointSettings{Links: []string{"a:b"}}, "links are not supported"},
	} {
		err := checkConnectEndpoint("c1", &tc.es)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want an invalid-argument error with %q", tc.es, err, tc.want)
		}
	}
	if err := checkConnectEndpoint("c1", &network.EndpointSettings{Aliases: []string{"www"}, NetworkID: "x"}); err != nil {
		t.Errorf("aliases and a read-only NetworkID: %v", err)
	}
}

// TestCreateVerbOptions: the options issue 14 maps become their create
// words.
func TestCreateVerbOptions(t *testing.T) {
	withInit := true
	req := container.CreateRequest{
		Config: &container.Config{Image: "busybox", MacAddress: "02:42:ac:11:00:99"},
		HostConfig: &container.HostConfig{
			ExtraHosts: []string{"db:10.0.0.9", "gw:host-gateway"}, DNS: []string{"192.0.2.53"},
			DNSSearch: []string{"corp.example"}, DNSOptions: []string{"ndots:3"}, Init: &withInit,
			PidMode: "host", UTSMode: "host", IpcMode: "shareable", CgroupnsMode: "private",
			Resources: container.Resources{
				Devices:            []container.DeviceMapping{{PathOnHost: "/dev/fuse", PathInContainer: "/dev/f", CgroupPermissions: "rw"}},
				DeviceCgroupRules:  []string{"c 1:3 rwm"},
				CPURealtimeRuntime: 950000, CPURealtimePeriod: 1000000,
			},
		},
	}
	got, err := createVerb("", req)
	if err != nil {
		t.Fatal(err)
	}
	want := verbs.Create{
		Image: "busybox", AddHost: []string{"db:10.0.0.9", "gw:host-gateway"}, DNS: []string{"192.0.2.53"},
		DNSSearch: []string{"corp.example"}, DNSOption: []string{"ndots:3"}, Init: true, PID: "host", UTS: "host",
		IPC: "shareable", Cgroupns: "private", Device: []string{"/dev/fuse:/dev/f:rw"}, DeviceCgroupRule: []string{"c 1:3 rwm"},
		CPURtRuntime: "950000", CPURtPeriod: "1000000", MacAddress: "02:42:ac:11:00:99",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("createVerb\n got %+v\nwant %+v", got, want)
	}
}
