package verbs

import (
	"strconv"
	"strings"

	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/hostconfig"
)

// MaxPorts caps the ports one create publishes (the bindings of its -p
// values, all told) and the ports it exposes (--expose): every port
// number of both protocols, and not the billions a few thousand ranges
// of 1-65535 would make.
const MaxPorts = 2 * 65535

// ParsePublish reads docker's -p values ([hostip:][hostport:]containerport
// [/tcp|/udp], port ranges included: 8080-8081:80-81 publishes two ports,
// 80-81 two ports on free host ports), Create.Publish, into the exposed
// ports and bindings of a config. Each value is read with go-connections'
// nat, as the docker CLI reads it; a bad one is an errdefs.ErrInvalid
// error that names it.
//
// The values of one create publish at most MaxPorts bindings.
func ParsePublish(specs []string) (nat.PortSet, nat.PortMap, error) {
	exposed, bindings := nat.PortSet{}, nat.PortMap{}
	n := 0
	for _, spec := range specs {
		e, b, err := nat.ParsePortSpecs([]string{spec})
		if err == nil {
			err = hostconfig.CheckPorts(e, b)
		}
		if err != nil {
			return nil, nil, errdefs.Invalid("invalid port specification %q (-p, publish=): %w", spec, err)
		}
		if n += len(e); n > MaxPorts {
			return nil, nil, errdefs.Invalid("port specification %q (-p, publish=): over %d published ports in all (MaxPorts)", spec, MaxPorts)
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
// Create.Expose, at most MaxPorts ports in all.
func ParseExpose(specs []string) (nat.PortSet, error) {
	out := nat.PortSet{}
	n := 0
	for _, s := range specs {
		proto, port := nat.SplitProtoPort(s)
		proto = strings.ToLower(proto) // as nat reads -p
		start, end, err := nat.ParsePortRangeToInt(port)
		if err != nil {
			return nil, errdefs.Invalid("invalid port %q to expose: %v", s, err)
		}
		if n += end - start + 1; n > MaxPorts {
			return nil, errdefs.Invalid("port %q to expose: over %d exposed ports in all (MaxPorts)", s, MaxPorts)
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
