package tree

import "github.com/enginefs/enginefs/engine"

// inspectOptions are the HostConfig fields of docker inspect that the
// create options of issue 14 set (--add-host, --dns*, --init, the
// namespace modes, devices), embedded in inspectHost.
type inspectOptions struct {
	ExtraHosts        []string               `json:"ExtraHosts"`
	DNS               []string               `json:"Dns"`
	DNSSearch         []string               `json:"DnsSearch"`
	DNSOptions        []string               `json:"DnsOptions"`
	Init              *bool                  `json:"Init,omitempty"`
	PidMode           string                 `json:"PidMode"`
	UTSMode           string                 `json:"UTSMode"`
	IpcMode           string                 `json:"IpcMode"`
	CgroupnsMode      string                 `json:"CgroupnsMode"`
	Devices           []engine.DeviceMapping `json:"Devices"`
	DeviceCgroupRules []string               `json:"DeviceCgroupRules"`
	Links             []string               `json:"Links"` // withLinks
}

// optionsOf is what inspect shows of c's options: docker's "private" IPC
// mode and "host" cgroup namespace (cgroup v1's) when none was asked for.
func optionsOf(c engine.Config) inspectOptions {
	o := inspectOptions{
		ExtraHosts: c.ExtraHosts, DNS: nonNil(c.DNS), DNSSearch: nonNil(c.DNSSearch), DNSOptions: nonNil(c.DNSOptions),
		PidMode: c.PidMode, UTSMode: c.UTSMode, IpcMode: firstNonEmpty(c.IpcMode, "private"),
		CgroupnsMode: firstNonEmpty(c.CgroupnsMode, "host"), Devices: c.Devices, DeviceCgroupRules: c.DeviceCgroupRules,
	}
	if o.Devices == nil {
		o.Devices = []engine.DeviceMapping{}
	}
	if c.Init {
		o.Init = &c.Init
	}
	return o
}
