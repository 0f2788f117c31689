package verbs

// NetworkCreate is create on networks/ctl. Internal is given as the
// bare word or as internal=BOOL.
type NetworkCreate struct {
	Name     string   `arg:"NAME"`
	Driver   string   `ctl:"driver" usage:"bridge|macvlan"`
	Subnet   string   `ctl:"subnet" usage:"CIDR"`
	Gateway  string   `ctl:"gateway" usage:"IP"`
	IPRange  string   `ctl:"ip-range" usage:"CIDR"`
	Aux      []string `ctl:"aux-address" usage:"NAME=IP"`
	Parent   string   `ctl:"parent" usage:"IF"`
	Internal bool     `ctl:"internal" word:"internal"`
	Opt      []string `ctl:"opt" usage:"K=V"`
	Label    []string `ctl:"label" usage:"K=V"`
}

// NetworkRm is rm on networks/ctl.
type NetworkRm struct {
	Names []string `arg:"NAME"`
}

// NetworkPrune is prune on networks/ctl.
type NetworkPrune struct{}

// NetworkConnect is connect on a network's ctl.
type NetworkConnect struct {
	Container string   `arg:"CONTAINER"`
	IP        string   `ctl:"ip" usage:"IPV4"`
	Alias     []string `ctl:"alias" usage:"NAME"`
}

// NetworkDisconnect is disconnect on a network's ctl.
type NetworkDisconnect struct {
	Container string `arg:"CONTAINER"`
}

// NetworkDirRm is rm on a network's ctl.
type NetworkDirRm struct{}

// VolumeCreate is create on volumes/ctl; without a name the volume gets
// a random one.
type VolumeCreate struct {
	Name   string   `arg:"NAME,optional"`
	Driver string   `ctl:"driver" usage:"local"`
	Opt    []string `ctl:"opt" usage:"K=V"`
	Label  []string `ctl:"label" usage:"K=V"`
}

// VolumeRm is rm on volumes/ctl.
type VolumeRm struct {
	Names []string `arg:"NAME"`
}

// VolumePrune is prune on volumes/ctl: anonymous volumes no container
// uses, or all unused ones.
type VolumePrune struct {
	All bool `word:"all"`
}

// VolumeDirRm is rm on a volume's ctl.
type VolumeDirRm struct{}

func (NetworkCreate) Verb() string     { return "create" }
func (NetworkRm) Verb() string         { return "rm" }
func (NetworkPrune) Verb() string      { return "prune" }
func (NetworkConnect) Verb() string    { return "connect" }
func (NetworkDisconnect) Verb() string { return "disconnect" }
func (NetworkDirRm) Verb() string      { return "rm" }
func (VolumeCreate) Verb() string      { return "create" }
func (VolumeRm) Verb() string          { return "rm" }
func (VolumePrune) Verb() string       { return "prune" }
func (VolumeDirRm) Verb() string       { return "rm" }
