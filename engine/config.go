package engine

import (
	"cmp"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// Config is what a user sets on a container before it starts. Field names
// follow docker's container config and host config, flattened, so the JSON
// reads the same and the REST bridge maps one to one.
type Config struct {
	Image string `json:"Image"`
	// Entrypoint overrides the image's; nil keeps it, an empty list clears it.
	Entrypoint []string `json:"Entrypoint"`
	// Cmd overrides the image's; nil keeps it.
	Cmd        []string `json:"Cmd"`
	Env        []string `json:"Env"`
	WorkingDir string   `json:"WorkingDir"`
	Hostname   string   `json:"Hostname"`
	// User is a name or uid, with an optional :group or :gid.
	User string `json:"User"`
	// GroupAdd are supplementary groups (names or gids) besides the user's.
	GroupAdd []string `json:"GroupAdd,omitempty"`
	// Labels are the user's metadata (docker's Config.Labels); compose
	// finds its containers by them.
	Labels map[string]string `json:"Labels,omitempty"`

	// Tty gives the process a terminal; OpenStdin keeps its stdin open for
	// attach; StdinOnce closes it when the first attached writer closes.
	Tty       bool `json:"Tty"`
	OpenStdin bool `json:"OpenStdin"`
	StdinOnce bool `json:"StdinOnce"`
	// ConsoleSize is the terminal's initial size, rows then columns
	// (docker's HostConfig.ConsoleSize).
	ConsoleSize [2]uint `json:"ConsoleSize,omitzero"`

	// StopSignal replaces the image's (default SIGTERM); StopTimeout the
	// 10 s stop waits before SIGKILL.
	StopSignal  string `json:"StopSignal,omitempty"`
	StopTimeout *int   `json:"StopTimeout,omitempty"`

	// AutoRemove removes the container when its process exits (run --rm).
	AutoRemove    bool          `json:"AutoRemove"`
	RestartPolicy RestartPolicy `json:"RestartPolicy"`
	// Runtime names the runtime that runs the container ("" is the
	// daemon's default).
	Runtime string `json:"Runtime,omitempty"`
	// Healthcheck is the container's health check (docker's
	// Config.Healthcheck); its zero fields take the image's HEALTHCHECK,
	// Test ["NONE"] disables the image's (health.go).
	Healthcheck *HealthConfig `json:"Healthcheck,omitempty"`

	Resources

	// CapAdd and CapDrop change docker's default capability set; "ALL" is
	// every capability.
	CapAdd         []string `json:"CapAdd,omitempty"`
	CapDrop        []string `json:"CapDrop,omitempty"`
	Privileged     bool     `json:"Privileged,omitempty"`
	ReadonlyRootfs bool     `json:"ReadonlyRootfs,omitempty"`
	// SecurityOpt holds docker's security options (securityOptions):
	// no-new-privileges[:BOOL], seccomp=unconfined|builtin|PROFILE-JSON,
	// systempaths=unconfined, apparmor=NAME and label=… (recorded, and
	// without effect on a host without AppArmor or SELinux, as in dockerd).
	SecurityOpt []string `json:"SecurityOpt,omitempty"`
	// MaskedPaths and ReadonlyPaths replace docker's defaults when not nil
	// (docker's HostConfig fields of those names).
	MaskedPaths   []string `json:"MaskedPaths"`
	ReadonlyPaths []string `json:"ReadonlyPaths"`
	// UsernsMode "host" keeps a container out of the daemon's user
	// namespace (--userns-remap); "" puts it in.
	UsernsMode string `json:"UsernsMode,omitempty"`
	// LogConfig is the logging driver and its options; nil at create takes
	// the daemon's (see logconfig.go).
	LogConfig *LogConfig `json:"LogConfig,omitempty"`
	// Sysctls are namespaced kernel parameters (docker's --sysctl).
	Sysctls map[string]string `json:"Sysctls,omitempty"`
	Ulimits []Ulimit          `json:"Ulimits,omitempty"`
	// ShmSize is the size of /dev/shm in bytes (0: docker's 64 MiB).
	ShmSize int64 `json:"ShmSize,omitempty"`

	// Init runs docker-init (tini) as the container's pid 1, which
	// forwards signals to the command and reaps orphans (docker's --init).
	Init bool `json:"Init,omitempty"`
	// PidMode, UTSMode and IpcMode are docker's namespace modes: "" is
	// the container's own namespace, "host" the host's; IpcMode is also
	// "private", "shareable" (both: its own) or "none" (its own, with no
	// /dev/shm). See checkModes.
	PidMode string `json:"PidMode,omitempty"`
	UTSMode string `json:"UTSMode,omitempty"`
	IpcMode string `json:"IpcMode,omitempty"`
	// CgroupnsMode is "host" (or "": the default on cgroup v1, as in
	// docker) or "private", a cgroup namespace of its own.
	CgroupnsMode string `json:"CgroupnsMode,omitempty"`
	// Devices are host devices made in the container (docker's --device);
	// DeviceCgroupRules add to the device cgroup's allowed list
	// (--device-cgroup-rule 'c 1:3 rwm').
	Devices           []DeviceMapping `json:"Devices,omitempty"`
	DeviceCgroupRules []string        `json:"DeviceCgroupRules,omitempty"`

	Networking
	Storage
}

// Networking is how a container is networked: what the networks read of
// its config (network.Settings), checked here (ports.go).
type Networking struct {
	// NetworkMode is the network the container joins first: "bridge"
	// (the default), "host", "none" or a network's name or id.
	NetworkMode string `json:"NetworkMode,omitempty"`
	// EndpointsConfig is docker's NetworkingConfig.EndpointsConfig: by
	// network, the aliases and the address (IPAMConfig.IPv4Address) the
	// container asks for; networks named here besides NetworkMode are
	// joined too.
	EndpointsConfig map[string]*network.EndpointSettings `json:"EndpointsConfig,omitempty"`
	// ExposedPorts adds to the image's exposed ports (docker's --expose);
	// PortBindings publishes container ports on the host (-p);
	// PublishAllPorts publishes every exposed port on a free host port (-P).
	ExposedPorts    nat.PortSet `json:"ExposedPorts,omitempty"`
	PortBindings    nat.PortMap `json:"PortBindings,omitempty"`
	PublishAllPorts bool        `json:"PublishAllPorts,omitempty"`
	// ExtraHosts are HOST:IP lines added to /etc/hosts (docker's
	// --add-host; IP "host-gateway" is the default bridge's gateway).
	ExtraHosts []string `json:"ExtraHosts,omitempty"`
	// DNS, DNSSearch and DNSOptions replace the host's nameservers,
	// search domains and options in resolv.conf (docker's --dns,
	// --dns-search, --dns-option); on a user-defined network the
	// nameservers are the embedded DNS's upstreams instead.
	DNS        []string `json:"Dns,omitempty"`
	DNSSearch  []string `json:"DnsSearch,omitempty"`
	DNSOptions []string `json:"DnsOptions,omitempty"`
	// MacAddress is the MAC address of the container's interface on its
	// first network (docker's --mac-address); "" derives it from the
	// address, as docker does.
	MacAddress string `json:"MacAddress,omitempty"`
	// Links are docker's legacy links NAME[:ALIAS] (--link), on the
	// default bridge only.
	Links []string `json:"Links,omitempty"`
}

// Storage is what a container mounts (volume_mounts.go resolves it into
// its mount points, which the volumes mount): docker's -v strings
// (Binds), --mount (Mounts), --tmpfs (Tmpfs: path → options) and
// --volumes-from (VolumesFrom: CONTAINER[:ro|:rw]).
type Storage struct {
	Binds        []string          `json:"Binds,omitempty"`
	Mounts       []mount.Mount     `json:"Mounts,omitempty"`
	Tmpfs        map[string]string `json:"Tmpfs,omitempty"`
	VolumesFrom  []string          `json:"VolumesFrom,omitempty"`
	VolumeDriver string            `json:"VolumeDriver,omitempty"`
}

// Resources are the limits of a container, in docker's units.
type Resources struct {
	Memory            int64  `json:"Memory,omitempty"`            // bytes
	MemorySwap        int64  `json:"MemorySwap,omitempty"`        // memory+swap bytes; -1 unlimited
	MemoryReservation int64  `json:"MemoryReservation,omitempty"` // bytes
	NanoCPUs          int64  `json:"NanoCpus,omitempty"`          // CPUs × 1e9
	CPUShares         int64  `json:"CpuShares,omitempty"`
	CPUQuota          int64  `json:"CpuQuota,omitempty"`  // µs per period
	CPUPeriod         int64  `json:"CpuPeriod,omitempty"` // µs
	CpusetCpus        string `json:"CpusetCpus,omitempty"`
	PidsLimit         *int64 `json:"PidsLimit,omitempty"` // nil or ≤0: unlimited
	// CPURealtimeRuntime and CPURealtimePeriod are the real-time
	// scheduler's budget in µs (--cpu-rt-runtime, --cpu-rt-period).
	CPURealtimeRuntime int64 `json:"CpuRealtimeRuntime,omitempty"`
	CPURealtimePeriod  int64 `json:"CpuRealtimePeriod,omitempty"`
}

// RestartPolicy says when the engine restarts a container that stopped:
// "no" (or ""), "always", "unless-stopped", "on-failure" (up to
// MaximumRetryCount times when non-zero).
type RestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// Ulimit is one resource limit (docker's --ulimit nofile=1024:2048).
type Ulimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// checkName validates a container name as docker does.
func checkName(name string) error {
	if !validName.MatchString(name) || len(name) > 128 {
		return errdefs.Invalid("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}

// minMemory is docker's lowest memory limit.
const minMemory = 6 * 1024 * 1024

// validate checks what can be checked without the image.
func (c *Config) validate() error {
	if c.Image == "" {
		return errdefs.Invalid("no image given (image=)")
	}
	if err := validateHealth(c.Healthcheck); err != nil {
		return err
	}
	if _, err := imagestore.ParseReference(c.Image); err != nil && !looksLikeID(c.Image) {
		return err
	}
	for _, kv := range c.Env {
		if k, _, _ := strings.Cut(kv, "="); k == "" {
			return errdefs.Invalid("invalid environment variable %q", kv)
		}
	}
	for k := range c.Labels {
		if k == "" {
			return errdefs.Invalid("invalid label: empty key")
		}
	}
	if c.WorkingDir != "" && !strings.HasPrefix(c.WorkingDir, "/") {
		return errdefs.Invalid("working directory %q is not absolute", c.WorkingDir)
	}
	if c.Hostname != "" && !validName.MatchString(c.Hostname) {
		return errdefs.Invalid("invalid hostname %q", c.Hostname)
	}
	if c.StopSignal != "" {
		if _, err := parseSignal(c.StopSignal); err != nil {
			return err
		}
	}
	if c.StopTimeout != nil && *c.StopTimeout < -1 {
		return errdefs.Invalid("invalid stop timeout %d", *c.StopTimeout)
	}
	if err := c.RestartPolicy.validate(); err != nil {
		return err
	}
	if c.AutoRemove && c.RestartPolicy.Name != "" && c.RestartPolicy.Name != "no" {
		return errdefs.Invalid("conflicting options: restart policy %q and auto-remove (--rm)", c.RestartPolicy.Name)
	}
	if c.StdinOnce && !c.OpenStdin {
		return errdefs.Invalid("stdin-once needs an open stdin")
	}
	if err := c.Resources.validate(); err != nil {
		return err
	}
	if _, err := c.securityOptions(); err != nil {
		return err
	}
	if err := c.checkSysctls(); err != nil {
		return err
	}
	for _, u := range c.Ulimits {
		if u.Soft > u.Hard || u.Soft < 0 {
			return errdefs.Invalid("invalid ulimit %s=%d:%d: soft must be between 0 and hard", u.Name, u.Soft, u.Hard)
		}
	}
	if c.ShmSize < 0 {
		return errdefs.Invalid("invalid shm size %d", c.ShmSize)
	}
	if err := c.Resources.checkRealtime(); err != nil {
		return err
	}
	if err := c.checkModes(); err != nil {
		return err
	}
	if err := c.Networking.checkNames(); err != nil {
		return err
	}
	if err := c.Networking.validate(); err != nil {
		return err
	}
	return c.Storage.validate()
}

func (p RestartPolicy) validate() error {
	switch p.Name {
	case "", "no", "always", "unless-stopped":
		if p.MaximumRetryCount != 0 {
			return errdefs.Invalid("maximum retry count applies only to the on-failure restart policy")
		}
	case "on-failure":
		if p.MaximumRetryCount < 0 {
			return errdefs.Invalid("invalid maximum retry count %d", p.MaximumRetryCount)
		}
	default:
		return errdefs.Invalid("invalid restart policy %q (no, always, unless-stopped, on-failure[:N])", p.Name)
	}
	return nil
}

func (r Resources) validate() error {
	switch {
	case r.Memory != 0 && r.Memory < minMemory:
		return errdefs.Invalid("minimum memory limit allowed is 6MB")
	case r.MemorySwap > 0 && r.Memory == 0:
		return errdefs.Invalid("a memory+swap limit needs a memory limit")
	case r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return errdefs.Invalid("minimum memory+swap limit should be larger than the memory limit")
	case r.MemoryReservation < 0 || r.Memory < 0 || r.CPUShares < 0 || r.NanoCPUs < 0:
		return errdefs.Invalid("resource limits cannot be negative")
	case r.NanoCPUs > 0 && (r.CPUQuota > 0 || r.CPUPeriod > 0):
		return errdefs.Invalid("conflicting options: cpus and cpu quota/period cannot both be set")
	case r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000):
		return errdefs.Invalid("cpu period must be between 1ms and 1s")
	case r.CPUQuota != 0 && r.CPUQuota < 1000 && r.CPUQuota != -1:
		return errdefs.Invalid("cpu quota must be at least 1ms")
	}
	return nil
}

func looksLikeID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	return len(s) >= 4 && strings.Trim(s, "0123456789abcdef") == ""
}

// process is the program a container runs, merged from the image and the
// container config by docker's rules.
type process struct {
	Args []string
	Env  []string
	Cwd  string
	User string
}

// merge applies docker's rules: an entrypoint given by the user replaces the
// image's entrypoint and drops the image's cmd; a cmd given by the user
// replaces the image's cmd; env adds to the image's, key by key.
func merge(img *imagestore.Image, c *Config) (process, error) {
	ic := img.Config.Config
	entry, cmd := ic.Entrypoint, ic.Cmd
	if c.Entrypoint != nil {
		entry, cmd = c.Entrypoint, nil
	}
	if c.Cmd != nil {
		cmd = c.Cmd
	}
	p := process{
		Args: append(append([]string{}, entry...), cmd...),
		Env:  mergeEnv(ic.Env, c.Env),
		Cwd:  cmp.Or(c.WorkingDir, ic.WorkingDir, "/"),
		User: cmp.Or(c.User, ic.User),
	}
	if len(p.Args) == 0 {
		return p, errdefs.Invalid("no command specified: the image has no Cmd or Entrypoint and none was given")
	}
	return p, nil
}

func mergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
