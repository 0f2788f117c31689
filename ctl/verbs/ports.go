package verbs

import (
	"strconv"
	"strings"

	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/hostconfig"
)

// ParsePublish reads docker's -p values ([hostip:][hostport:]containerport
// [/tcp|/udp], port ranges included: 8080-8081:80-81 publishes two ports,
// 80-81 two ports on free host ports), Create.Publish, into the exposed
// ports and bindings of a config. Each value is read with go-connections'
// nat, as the docker CLI reads it; a bad one is an errdefs.ErrInvalid
// error that names it.
func ParsePublish(specs []string) (nat.PortSet, nat.PortMap, error) {
	exposed, bindings := nat.PortSet{}, nat.PortMap{}
	for _, spec := range specs {
		e, b, err := nat.ParsePortSpecs([]string{spec})
		if err == nil {
			err = hostconfig.CheckPorts(e, b)
		}
		if err != nil {
			return nil, nil, errdefs.Invalid("invalid port specification %q (-p, publish=): %w", spec, err)
		}
		for p := range e {
			exposed[p] = struct{}{}
		}
		for p, bs := range b {
			bindings[p] = append(bindings[p], bs...)
		}
	}
	return exposed, bindings, nil
}

// FormatPublish writes one binding of a port as a -p value, which
// ParsePublish reads back.
func FormatPublish(p nat.Port, b nat.PortBinding) string {
	spec := string(p)
	switch ip := b.HostIP; {
	case ip != "":
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		spec = ip + ":" + b.HostPort + ":" + spec
	case b.HostPort != "":
		spec = b.HostPort + ":" + spec
	}
	return spec
}

// ParseExpose reads docker's --expose values (PORT[/PROTO], ranges too),
// Create.Expose.
func ParseExpose(specs []string) (nat.PortSet, error) {
	out := nat.PortSet{}
	for _, s := range specs {
		proto, port := nat.SplitProtoPort(s)
		start, end, err := nat.ParsePortRangeToInt(port)
		if err != nil {
			return nil, errdefs.Invalid("invalid port %q to expose: %v", s, err)
		}
		for p := start; p <= end; p++ {
			np, err := nat.NewPort(proto, strconv.Itoa(p))
			if err != nil {
				return nil, errdefs.Invalid("invalid port %q to expose: %v", s, err)
			}
			out[np] = struct{}{}
		}
	}
	return out, hostconfig.CheckPorts(out, nil)
}
