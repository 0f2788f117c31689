package verbs

// Create is create on containers/ctl and on the ctl of a container
// reserved by containers/clone: the words follow docker run's flags. Its
// fields with a flag tag are dctl's create and run flags (see Flags).
type Create struct {
	Image       string   `ctl:"image,required" usage:"REF"`
	Name        string   `ctl:"name" usage:"NAME" flag:"name" help:"assign a name to the container"`
	Env         []string `ctl:"env" usage:"K=V" flag:"env,e" help:"set environment variables (KEY=value, or KEY to pass the client's value)"`
	Workdir     string   `ctl:"workdir" usage:"DIR" flag:"workdir,w" help:"working directory inside the container"`
	Hostname    string   `ctl:"hostname" usage:"H" flag:"hostname,h" help:"container host name"`
	User        string   `ctl:"user" usage:"U[:G]" flag:"user,u" help:"username or UID (format: <name|uid>[:<group|gid>])"`
	GroupAdd    []string `ctl:"group-add" usage:"G" flag:"group-add" help:"add additional groups to join"`
	Entrypoint  []string `ctl:"entrypoint" usage:"PROG" flag:"entrypoint,,single" help:"overwrite the default ENTRYPOINT of the image"`
	Rm          bool     `ctl:"rm" flag:"rm" help:"automatically remove the container when it exits"`
	Tty         bool     `ctl:"tty" flag:"tty,t" help:"allocate a pseudo-TTY"`
	Stdin       bool     `ctl:"stdin" flag:"interactive,i" help:"keep STDIN open even if not attached"`
	StdinOnce   bool     `ctl:"stdin-once"`
	StopSignal  string   `ctl:"stop-signal" usage:"SIG" flag:"stop-signal" help:"signal to stop the container"`
	StopTimeout string   `ctl:"stop-timeout" usage:"SECS" flag:"stop-timeout" help:"timeout (in seconds) to stop a container"`
	Restart     string   `ctl:"restart" usage:"no|always|unless-stopped|on-failure[:N]" flag:"restart" help:"restart policy: no, always, unless-stopped, on-failure[:max-retries]"`
	Runtime     string   `ctl:"runtime" usage:"NAME" flag:"runtime" help:"runtime to use for this container (builtin, runc, ...)"`

	Memory            string   `ctl:"memory" usage:"64m" flag:"memory,m" help:"memory limit (e.g. 64m)"`
	MemorySwap        string   `ctl:"memory-swap" usage:"128m" flag:"memory-swap" help:"memory plus swap limit: -1 for unlimited swap"`
	MemoryReservation string   `ctl:"memory-reservation" usage:"32m" flag:"memory-reservation" help:"memory soft limit"`
	CPUs              string   `ctl:"cpus" usage:"0.5" flag:"cpus" help:"number of CPUs (e.g. 0.5)"`
	CPUShares         string   `ctl:"cpu-shares" usage:"N" flag:"cpu-shares,c" help:"CPU shares (relative weight)"`
	CPUQuota          string   `ctl:"cpu-quota" usage:"US" flag:"cpu-quota" help:"limit CPU CFS quota (µs)"`
	CPUPeriod         string   `ctl:"cpu-period" usage:"US" flag:"cpu-period" help:"limit CPU CFS period (µs)"`
	CPURtRuntime      string   `ctl:"cpu-rt-runtime" usage:"US" flag:"cpu-rt-runtime" help:"limit CPU real-time runtime (µs)"`
	CPURtPeriod       string   `ctl:"cpu-rt-period" usage:"US" flag:"cpu-rt-period" help:"limit CPU real-time period (µs)"`
	CpusetCPUs        string   `ctl:"cpuset-cpus" usage:"0-1" flag:"cpuset-cpus" help:"CPUs in which to allow execution (0-3, 0,1)"`
	PidsLimit         string   `ctl:"pids-limit" usage:"N" flag:"pids-limit" help:"tune the container's pids limit (-1 for unlimited)"`
	CapAdd            []string `ctl:"cap-add" usage:"CAP" flag:"cap-add" help:"add Linux capabilities"`
	CapDrop           []string `ctl:"cap-drop" usage:"CAP" flag:"cap-drop" help:"drop Linux capabilities"`
	Privileged        bool     `ctl:"privileged" flag:"privileged" help:"give extended privileges to this container"`
	ReadOnly          bool     `ctl:"read-only" flag:"read-only" help:"mount the container's root filesystem as read only"`
	SecurityOpt       []string `ctl:"security-opt" usage:"OPT" flag:"security-opt" help:"security options (no-new-privileges, seccomp=unconfined|PROFILE.json, systempaths=unconfined, apparmor=, label=)"`
	Sysctl            []string `ctl:"sysctl" usage:"KEY=VALUE" flag:"sysctl" help:"namespaced kernel parameters (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)"`
	Userns            string   `ctl:"userns" usage:"host" flag:"userns" help:"user namespace to use: host, or none for the daemon's (--userns-remap)"`
	MaskedPath        []string `ctl:"masked-path" usage:"PATH"`
	ReadonlyPath      []string `ctl:"readonly-path" usage:"PATH"`
	Ulimit            []string `ctl:"ulimit" usage:"nofile=SOFT[:HARD]" flag:"ulimit" help:"ulimit options (nofile=1024:2048)"`
	ShmSize           string   `ctl:"shm-size" usage:"64m" flag:"shm-size" help:"size of /dev/shm"`
	Label             []string `ctl:"label" usage:"KEY=VALUE"`
	ConsoleSize       string   `ctl:"console-size" usage:"ROWSxCOLS"`

	HealthCmd           string `ctl:"health-cmd" usage:"CMD" flag:"health-cmd" help:"command to run to check health"`
	HealthInterval      string `ctl:"health-interval" usage:"DURATION" flag:"health-interval" help:"time between running the check (ms|s|m|h) (default 0s)"`
	HealthTimeout       string `ctl:"health-timeout" usage:"DURATION" flag:"health-timeout" help:"maximum time to allow one check to run (ms|s|m|h) (default 0s)"`
	HealthRetries       string `ctl:"health-retries" usage:"N" flag:"health-retries" help:"consecutive failures needed to report unhealthy"`
	HealthStartPeriod   string `ctl:"health-start-period" usage:"DURATION" flag:"health-start-period" help:"start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)"`
	HealthStartInterval string `ctl:"health-start-interval" usage:"DURATION" flag:"health-start-interval" help:"time between running the check during the start period (ms|s|m|h) (default 0s)"`
	NoHealthcheck       bool   `ctl:"no-healthcheck" flag:"no-healthcheck" help:"disable any container-specified HEALTHCHECK"`
	// HealthTest is the whole test of the API's Healthcheck.Test, word by
	// word (CMD ARG... or CMD-SHELL COMMAND), where health-cmd is a shell
	// command (CMD-SHELL) alone.
	HealthTest []string `ctl:"health-test" usage:"WORD"`
	LogDriver  string   `ctl:"log-driver" usage:"json-file|local|none|syslog|journald" flag:"log-driver" help:"logging driver for the container"`
	LogOpt     []string `ctl:"log-opt" usage:"KEY=VALUE" flag:"log-opt" help:"log driver options (max-size=10m, max-file=3, ...)"`

	Network    string   `ctl:"network" usage:"bridge|host|none|NAME" flag:"network" help:"connect a container to a network (bridge, host, none, or a network's name)"`
	IP         string   `ctl:"ip" usage:"IPV4" flag:"ip" help:"IPv4 address on the network of --network"`
	Alias      []string `ctl:"alias" usage:"NAME" flag:"network-alias" help:"add a network-scoped alias for the container"`
	Publish    []string `ctl:"publish" usage:"[HOSTIP:][HOSTPORT[-END]:]PORT[-END][/PROTO]" flag:"publish,p" help:"publish a container's port(s) to the host ([hostip:][hostport:]port[/proto])"`
	PublishAll bool     `ctl:"publish-all" flag:"publish-all,P" help:"publish all exposed ports to random ports"`
	Expose     []string `ctl:"expose" usage:"PORT[/PROTO]" flag:"expose" help:"expose a port or a range of ports"`
	Link       []string `ctl:"link" usage:"NAME[:ALIAS]" flag:"link" help:"add a legacy link to another container on the default bridge (name[:alias])"`

	// Docker's name resolution, init process and shared namespaces.
	AddHost          []string `ctl:"add-host" usage:"HOST:IP" flag:"add-host" help:"add a custom host-to-IP mapping (host:ip, or host:host-gateway)"`
	DNS              []string `ctl:"dns" usage:"IP" flag:"dns" help:"set custom DNS servers"`
	DNSSearch        []string `ctl:"dns-search" usage:"DOMAIN" flag:"dns-search" help:"set custom DNS search domains"`
	DNSOption        []string `ctl:"dns-option" usage:"OPT" flag:"dns-option" help:"set DNS options"`
	Init             bool     `ctl:"init" flag:"init" help:"run an init inside the container that forwards signals and reaps processes"`
	PID              string   `ctl:"pid" usage:"host" flag:"pid" help:"PID namespace to use (host)"`
	UTS              string   `ctl:"uts" usage:"host" flag:"uts" help:"UTS namespace to use (host)"`
	IPC              string   `ctl:"ipc" usage:"private|shareable|host|none" flag:"ipc" help:"IPC mode to use (private, shareable, host, none)"`
	Device           []string `ctl:"device" usage:"HOST[:CONT][:rwm]" flag:"device" help:"add a host device to the container (/dev/x[:/dev/y][:rwm])"`
	DeviceCgroupRule []string `ctl:"device-cgroup-rule" usage:"'c|b|a MAJ:MIN rwm'" flag:"device-cgroup-rule" help:"add a rule to the cgroup allowed devices list ('c 1:3 rwm')"`
	MacAddress       string   `ctl:"mac-address" usage:"MAC" flag:"mac-address" help:"container MAC address on its first network (e.g., 92:d0:c6:0a:29:33)"`
	Cgroupns         string   `ctl:"cgroupns" usage:"host|private" flag:"cgroupns" help:"cgroup namespace to use (host or private)"`

	Volume       []string `ctl:"volume" usage:"[SRC:]DST[:ro]" flag:"volume,v" help:"bind mount a volume ([name|/host/path:]/container/path[:ro])"`
	Mount        []string `ctl:"mount" usage:"type=...,src=...,dst=..." flag:"mount" help:"attach a filesystem mount to the container (type=volume|bind|tmpfs,src=,dst=,...)"`
	Tmpfs        []string `ctl:"tmpfs" usage:"DST[:OPTS]" flag:"tmpfs" help:"mount a tmpfs directory (/path[:options])"`
	VolumesFrom  []string `ctl:"volumes-from" usage:"CONTAINER[:ro]" flag:"volumes-from" help:"mount volumes from the specified container(s) (CONTAINER[:ro])"`
	VolumeDriver string   `ctl:"volume-driver" usage:"NAME" flag:"volume-driver" help:"volume driver of the container's named volumes"`

	Cmd []string `argv:"CMD ARG..."`
}

// ContainerStart is start on a container's ctl.
type ContainerStart struct{}

// ContainerStop is stop: SIGTERM (or the signal), then after the seconds
// (the container's stop timeout if none; -1 waits for ever) SIGKILL.
type ContainerStop struct {
	Seconds string `arg:"SECONDS,optional"`
	Signal  string `ctl:"signal" usage:"SIG"`
}

// ContainerRestart is restart, a stop with its seconds and a start.
type ContainerRestart struct {
	Seconds string `arg:"SECONDS,optional"`
}

// ContainerKill is kill, with a signal's name or number (KILL if none).
type ContainerKill struct {
	Signal string `arg:"SIGNAL,optional"`
}

// ContainerPause is pause (the cgroup freezer).
type ContainerPause struct{}

// ContainerResume is resume, the end of a pause.
type ContainerResume struct{}

// ContainerResize is resize of the container's terminal; Size reads it.
type ContainerResize struct {
	Rows string `arg:"ROWS"`
	Cols string `arg:"COLS"`
}

// ContainerRm is rm: force kills a running container first, volumes
// removes its anonymous volumes too (docker rm -f -v).
type ContainerRm struct {
	Force   bool `word:"force"`
	Volumes bool `word:"volumes"`
}

// ContainerRename is rename.
type ContainerRename struct {
	Name string `arg:"NAME"`
}

// ContainerUpdate is update: new resource limits or restart policy. A
// running container's cgroup changes at once; a stopped one's record
// does, for its next start. Keys not given keep their values.
type ContainerUpdate struct {
	Memory            string `ctl:"memory" usage:"64m" flag:"memory,m" help:"memory limit (e.g. 64m)"`
	MemorySwap        string `ctl:"memory-swap" usage:"128m" flag:"memory-swap" help:"memory plus swap limit: -1 for unlimited swap"`
	MemoryReservation string `ctl:"memory-reservation" usage:"32m" flag:"memory-reservation" help:"memory soft limit"`
	CPUs              string `ctl:"cpus" usage:"0.5" flag:"cpus" help:"number of CPUs (e.g. 0.5)"`
	CPUShares         string `ctl:"cpu-shares" usage:"N" flag:"cpu-shares,c" help:"CPU shares (relative weight)"`
	CPUQuota          string `ctl:"cpu-quota" usage:"US" flag:"cpu-quota" help:"limit CPU CFS quota (µs)"`
	CPUPeriod         string `ctl:"cpu-period" usage:"US" flag:"cpu-period" help:"limit CPU CFS period (µs)"`
	CpusetCPUs        string `ctl:"cpuset-cpus" usage:"0-1" flag:"cpuset-cpus" help:"CPUs in which to allow execution (0-3, 0,1)"`
	PidsLimit         string `ctl:"pids-limit" usage:"N" flag:"pids-limit" help:"tune the container's pids limit (-1 for unlimited)"`
	Restart           string `ctl:"restart" usage:"no|always|unless-stopped|on-failure[:N]" flag:"restart" help:"restart policy to apply when a container exits"`
}

// ContainerPrune is prune on containers/ctl: the removal of every created
// or exited container that matches (docker container prune's filters:
// until=, a TIME as RFC 3339, Unix seconds or a duration back from now;
// label= and label-not=, K or K=V). The reply is a line "ID SIZE" per
// container removed, SIZE the bytes of its changes.
type ContainerPrune struct {
	Until    string   `ctl:"until" usage:"TIME"`
	Label    []string `ctl:"label" usage:"K[=V]"`
	LabelNot []string `ctl:"label-not" usage:"K[=V]"`
}

// ContainerCommit is commit: the container's changes as an image,
// tagged Ref if given; the reply is the image id.
type ContainerCommit struct {
	Ref     string   `arg:"REPO[:TAG],optional"`
	Author  string   `ctl:"author" usage:"NAME"`
	Comment string   `ctl:"comment" usage:"TEXT"`
	Change  []string `ctl:"change" usage:"INSTRUCTION"`
	NoPause bool     `ctl:"pause,inverse"`
}

// ExecCreate is create on the ctl of an exec (containers/<id>/exec/clone
// or <n>/ctl).
type ExecCreate struct {
	User    string   `ctl:"user" usage:"U[:G]"`
	Workdir string   `ctl:"workdir" usage:"DIR"`
	Env     []string `ctl:"env" usage:"K=V"`
	Tty     bool     `ctl:"tty"`
	Stdin   bool     `ctl:"stdin"`
	Cmd     []string `argv:"CMD ARG...,required"`
}

// ExecStart is start on an exec's ctl.
type ExecStart struct{}

// ExecKill is kill on an exec's ctl.
type ExecKill struct {
	Signal string `arg:"SIGNAL,optional"`
}

// ExecResize is resize of an exec's terminal; Size reads it.
type ExecResize struct {
	Rows string `arg:"ROWS"`
	Cols string `arg:"COLS"`
}

// Logs is the options line written to containers/<id>/logs before it is
// read: docker logs' options.
type Logs struct {
	NoStdout   bool   `ctl:"stdout,inverse"`
	NoStderr   bool   `ctl:"stderr,inverse"`
	Timestamps bool   `ctl:"timestamps"`
	Tail       string `ctl:"tail" usage:"N|all"`
	Since      string `ctl:"since" usage:"T"`
	Until      string `ctl:"until" usage:"T"`
	Follow     bool   `ctl:"follow"`
	Format     string `ctl:"format" usage:"plain|framed"`
}

func (Create) Verb() string           { return "create" }
func (ContainerStart) Verb() string   { return "start" }
func (ContainerStop) Verb() string    { return "stop" }
func (ContainerRestart) Verb() string { return "restart" }
func (ContainerKill) Verb() string    { return "kill" }
func (ContainerPause) Verb() string   { return "pause" }
func (ContainerResume) Verb() string  { return "resume" }
func (ContainerResize) Verb() string  { return "resize" }
func (ContainerRm) Verb() string      { return "rm" }
func (ContainerRename) Verb() string  { return "rename" }
func (ContainerCommit) Verb() string  { return "commit" }
func (ContainerUpdate) Verb() string  { return "update" }
func (ContainerPrune) Verb() string   { return "prune" }
func (ExecCreate) Verb() string       { return "create" }
func (ExecStart) Verb() string        { return "start" }
func (ExecKill) Verb() string         { return "kill" }
func (ExecResize) Verb() string       { return "resize" }
func (Logs) Verb() string             { return "logs" }

// Size reads the ROWS and COLS of a resize: numbers from 1 to 65535.
func (r ContainerResize) Size() (rows, cols uint16, err error) { return winsize(r, r.Rows, r.Cols) }

// Size reads the ROWS and COLS of a resize: numbers from 1 to 65535.
func (r ExecResize) Size() (rows, cols uint16, err error) { return winsize(r, r.Rows, r.Cols) }
