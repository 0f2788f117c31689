package verbs

// Build is build on the ctl of a build job (builds/clone, builds/<n>/ctl):
// docker build's options. Auth is docker's X-Registry-Config (base64url of
// its JSON map of registry to AuthConfig), used by this build's pulls only.
type Build struct {
	Tags       []string `ctl:"t" usage:"REF"`
	File       string   `ctl:"file" usage:"PATH"`
	BuildArg   []string `ctl:"build-arg" usage:"K[=V]"`
	Target     string   `ctl:"target" usage:"STAGE"`
	Label      []string `ctl:"label" usage:"K=V"`
	NoCache    bool     `ctl:"no-cache"`
	Pull       bool     `ctl:"pull"`
	CacheFrom  []string `ctl:"cache-from" usage:"REF"`
	Quiet      bool     `ctl:"q"`
	Network    string   `ctl:"network" usage:"NAME"`
	Memory     string   `ctl:"memory" usage:"64m"`
	MemorySwap string   `ctl:"memory-swap"`
	CPUShares  string   `ctl:"cpu-shares" usage:"N"`
	CPUPeriod  string   `ctl:"cpu-period" usage:"US"`
	CPUQuota   string   `ctl:"cpu-quota" usage:"US"`
	CpusetCPUs string   `ctl:"cpuset-cpus" usage:"0-1"`
	ShmSize    string   `ctl:"shm-size" usage:"64m"`
	Ulimit     []string `ctl:"ulimit" usage:"NAME=SOFT[:HARD]"`
	Platform   string   `ctl:"platform" usage:"OS/ARCH"`
	Auth       string   `ctl:"auth" usage:"CREDENTIALS"`
}

// Import is import on the ctl of a build job: the context is a root file
// system tar, made an image.
type Import struct {
	Ref      string   `arg:"REF,optional"`
	Change   []string `ctl:"change" usage:"INSTRUCTION"`
	Message  string   `ctl:"message" usage:"TEXT"`
	Platform string   `ctl:"platform" usage:"OS/ARCH"`
}

// BuildStart is start on the ctl of a build job, once its context is
// written.
type BuildStart struct{}

// BuildCancel is cancel on the ctl of a build job.
type BuildCancel struct{}

// BuildPrune is prune on builds/ctl: the build cache nothing needs.
type BuildPrune struct {
	All bool `ctl:"all"`
}

func (Build) Verb() string       { return "build" }
func (Import) Verb() string      { return "import" }
func (BuildStart) Verb() string  { return "start" }
func (BuildCancel) Verb() string { return "cancel" }
func (BuildPrune) Verb() string  { return "prune" }
