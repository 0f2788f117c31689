package engine

import "github.com/enginefs/enginefs/hostconfig"

// validate checks the ports.
func (n Networking) validate() error {
	return hostconfig.CheckPorts(n.ExposedPorts, n.PortBindings)
}
