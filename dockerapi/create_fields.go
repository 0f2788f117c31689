package dockerapi

import (
	"fmt"
	"reflect"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/enginefs/enginefs/errdefs"
)

// fieldUse says what the bridge does with one field of a create body.
type fieldUse int

const (
	// mapped: createVerb turns the field into words of the create line.
	mapped fieldUse = iota
	// refused: a value other than docker's default is a 400 naming the
	// field; the engine has no way to honour it yet.
	refused
	// ignored: the field is accepted and has no effect, for the reason
	// given (a client-side field, a Windows one, one dockerd ignores too).
	ignored
)

// fieldRule is the table's entry for one field: its use and, for refused
// and ignored fields, the reason (for refused ones, docker run's flag).
type fieldRule struct {
	use fieldUse
	why string
}

// configFields are the fields of docker's container.Config, by Go name.
// A field missing here is refused like a refused one, and
// TestCreateFieldsListed fails: a field docker adds later cannot be
// dropped silently.
var configFields = map[string]fieldRule{
	"Hostname":     {use: mapped},
	"Domainname":   {use: refused, why: "--domainname"},
	"User":         {use: mapped},
	"AttachStdin":  {use: ignored, why: "the client attaches after the create"},
	"AttachStdout": {use: ignored, why: "the client attaches after the create"},
	"AttachStderr": {use: ignored, why: "the client attaches after the create"},
	"ExposedPorts": {use: mapped},
	"Tty":          {use: mapped},
	"OpenStdin":    {use: mapped},
	"StdinOnce":    {use: mapped},
	"Env":          {use: mapped},
	"Cmd":          {use: mapped},
	// Healthcheck is the health-check part of issue 14's (mapped there).
	"Healthcheck":     {use: mapped},
	"ArgsEscaped":     {use: ignored, why: "Windows only: dockerd ignores it on Linux"},
	"Image":           {use: mapped},
	"Volumes":         {use: mapped},
	"WorkingDir":      {use: mapped},
	"Entrypoint":      {use: mapped},
	"NetworkDisabled": {use: refused, why: "--network none"},
	"MacAddress":      {use: mapped},
	"OnBuild":         {use: ignored, why: "image metadata: dockerd keeps it for commit, a create has no use for it"},
	"Labels":          {use: mapped},
	"StopSignal":      {use: mapped},
	"StopTimeout":     {use: mapped},
	"Shell":           {use: ignored, why: "image metadata for builds: a create has no use for it"},
}

// hostConfigFields are the fields of docker's container.HostConfig and of
// its embedded container.Resources, by Go name, as configFields.
var hostConfigFields = map[string]fieldRule{
	"Binds":           {use: mapped},
	"ContainerIDFile": {use: ignored, why: "the docker CLI writes that file itself"},
	// LogConfig is the log-driver part of issue 14's (mapped there).
	"LogConfig":       {use: mapped},
	"NetworkMode":     {use: mapped},
	"PortBindings":    {use: mapped},
	"RestartPolicy":   {use: mapped},
	"AutoRemove":      {use: mapped},
	"VolumeDriver":    {use: mapped},
	"VolumesFrom":     {use: mapped},
	"ConsoleSize":     {use: mapped},
	"Annotations":     {use: refused, why: "--annotation"},
	"CapAdd":          {use: mapped},
	"CapDrop":         {use: mapped},
	"CgroupnsMode":    {use: mapped},
	"DNS":             {use: mapped},
	"DNSOptions":      {use: mapped},
	"DNSSearch":       {use: mapped},
	"ExtraHosts":      {use: mapped},
	"GroupAdd":        {use: mapped},
	"IpcMode":         {use: mapped},
	"Cgroup":          {use: refused, why: "--cgroup"},
	"Links":           {use: mapped}, // networkingOf: link=, on the default bridge only
	"OomScoreAdj":     {use: refused, why: "--oom-score-adj"},
	"PidMode":         {use: mapped},
	"Privileged":      {use: mapped},
	"PublishAllPorts": {use: mapped},
	"ReadonlyRootfs":  {use: mapped},
	"SecurityOpt":     {use: mapped},
	"StorageOpt":      {use: refused, why: "--storage-opt"},
	"Tmpfs":           {use: mapped},
	"UTSMode":         {use: mapped},
	"UsernsMode":      {use: mapped},
	"ShmSize":         {use: mapped},
	"Sysctls":         {use: mapped},
	"Runtime":         {use: mapped},
	"Isolation":       {use: refused, why: "--isolation (Windows only)"},
	"Mounts":          {use: mapped},
	"MaskedPaths":     {use: mapped},
	"ReadonlyPaths":   {use: mapped},
	"Init":            {use: mapped},

	// container.Resources
	"CPUShares":            {use: mapped},
	"Memory":               {use: mapped},
	"NanoCPUs":             {use: mapped},
	"CgroupParent":         {use: refused, why: "--cgroup-parent"},
	"BlkioWeight":          {use: refused, why: "--blkio-weight"},
	"BlkioWeightDevice":    {use: refused, why: "--blkio-weight-device"},
	"BlkioDeviceReadBps":   {use: refused, why: "--device-read-bps"},
	"BlkioDeviceWriteBps":  {use: refused, why: "--device-write-bps"},
	"BlkioDeviceReadIOps":  {use: refused, why: "--device-read-iops"},
	"BlkioDeviceWriteIOps": {use: refused, why: "--device-write-iops"},
	"CPUPeriod":            {use: mapped},
	"CPUQuota":             {use: mapped},
	"CPURealtimePeriod":    {use: mapped},
	"CPURealtimeRuntime":   {use: mapped},
	"CpusetCpus":           {use: mapped},
	"CpusetMems":           {use: refused, why: "--cpuset-mems"},
	"Devices":              {use: mapped},
	"DeviceCgroupRules":    {use: mapped},
	"DeviceRequests":       {use: refused, why: "--gpus"},
	"KernelMemory":         {use: ignored, why: "deprecated: dockerd ignores it on cgroup v2 and kernels since 5.4"},
	"KernelMemoryTCP":      {use: refused, why: "--kernel-memory-tcp"},
	"MemoryReservation":    {use: mapped},
	"MemorySwap":           {use: mapped},
	"MemorySwappiness":     {use: refused, why: "--memory-swappiness"},
	"OomKillDisable":       {use: refused, why: "--oom-kill-disable"},
	"PidsLimit":            {use: mapped},
	"Ulimits":              {use: mapped},
	"CPUCount":             {use: refused, why: "--cpu-count (Windows only)"},
	"CPUPercent":           {use: refused, why: "--cpu-percent (Windows only)"},
	"IOMaximumIOps":        {use: refused, why: "--io-maxiops (Windows only)"},
	"IOMaximumBandwidth":   {use: refused, why: "--io-maxbandwidth (Windows only)"},
}

// endpointFields are the fields of docker's network.EndpointSettings that
// a create or a connect may carry, as configFields; the read-only ones
// (NetworkID, EndpointID, Gateway, IPAddress...) are what inspect shows
// and clients echo back: dockerd ignores them too.
var endpointFields = map[string]fieldRule{
	"IPAMConfig":          {use: mapped}, // connectVerb refuses IPv6 and link-local addresses
	"Links":               {use: mapped}, // networkingOf refuses them: links on a user-defined network
	"Aliases":             {use: mapped},
	"DriverOpts":          {use: refused, why: "--network driver-opt="},
	"GwPriority":          {use: refused, why: "--network gw-priority="},
	"MacAddress":          {use: mapped}, // the first network's; networkingOf refuses the others'
	"DNSNames":            {use: ignored, why: "read-only: dockerd computes it"},
	"NetworkID":           {use: ignored, why: "read-only (inspect)"},
	"EndpointID":          {use: ignored, why: "read-only (inspect)"},
	"Gateway":             {use: ignored, why: "read-only (inspect)"},
	"IPAddress":           {use: ignored, why: "read-only (inspect)"},
	"IPPrefixLen":         {use: ignored, why: "read-only (inspect)"},
	"IPv6Gateway":         {use: ignored, why: "read-only (inspect)"},
	"GlobalIPv6Address":   {use: ignored, why: "read-only (inspect)"},
	"GlobalIPv6PrefixLen": {use: ignored, why: "read-only (inspect)"},
}

// checkCreateFields refuses, as invalid, a create body that sets a field
// the bridge does not map: the error names the field (Config.X or
// HostConfig.X, or the endpoint's) and docker run's flag for it.
func checkCreateFields(req container.CreateRequest) error {
	if req.Config != nil {
		if err := checkFields("Config", reflect.ValueOf(*req.Config), configFields); err != nil {
			return err
		}
	}
	if req.HostConfig != nil {
		if err := checkFields("HostConfig", reflect.ValueOf(*req.HostConfig), hostConfigFields); err != nil {
			return err
		}
	}
	if nc := req.NetworkingConfig; nc != nil {
		for _, name := range sortedKeys(nc.EndpointsConfig) {
			if err := checkEndpoint(name, nc.EndpointsConfig[name]); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkEndpoint refuses an endpoint of network name that sets a field the
// bridge does not map.
func checkEndpoint(name string, es *network.EndpointSettings) error {
	if es == nil {
		return nil
	}
	return checkFields("EndpointsConfig["+name+"]", reflect.ValueOf(*es), endpointFields)
}

// checkConnectEndpoint refuses the endpoint of a connect (docker network
// connect) that sets a field the connect line cannot carry: those the
// table refuses, and a MAC address or links, which only a create maps.
func checkConnectEndpoint(ctr string, es *network.EndpointSettings) error {
	if es == nil {
		return nil
	}
	if err := checkEndpoint(ctr, es); err != nil {
		return err
	}
	switch {
	case es.MacAddress != "":
		return errdefs.Invalid("EndpointConfig.MacAddress=%s is not supported by this engine on a connect (a MAC address is chosen at create, for the first network)", es.MacAddress)
	case len(es.Links) > 0:
		return errdefs.Invalid("links are not supported (containers on a user-defined network find each other by name)")
	}
	return nil
}

// checkFields walks the fields of struct v (and of the structs it
// embeds) and refuses the first one that is set and neither mapped nor
// ignored in rules.
func checkFields(prefix string, v reflect.Value, rules map[string]fieldRule) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if err := checkFields(prefix, v.Field(i), rules); err != nil {
				return err
			}
			continue
		}
		rule, listed := rules[f.Name]
		if listed && rule.use != refused {
			continue
		}
		if isDefault(f.Name, v.Field(i)) {
			continue
		}
		how := "not supported by this engine"
		if rule.why != "" {
			how += " (" + rule.why + ")"
		}
		return errdefs.Invalid("%s.%s=%s is %s", prefix, f.Name, show(v.Field(i)), how)
	}
	return nil
}

// isDefault says whether a field holds what docker's clients send when
// the user did not set it: the zero value, an empty list or map, nil or a
// pointer to false, and the docker CLI's -1 for MemorySwappiness and
// "default" for Isolation.
func isDefault(name string, v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return true
		}
		switch e := v.Elem(); {
		case e.Kind() == reflect.Bool:
			return !e.Bool() // OomKillDisable, Init: false is docker's default
		case name == "MemorySwappiness":
			return e.Int() == -1
		}
		return false
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	case reflect.String:
		return v.String() == "" || (name == "Isolation" && v.String() == "default")
	}
	return v.IsZero()
}

// show is a field's value as the error shows it.
func show(v reflect.Value) string {
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	s := fmt.Sprint(v.Interface())
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
