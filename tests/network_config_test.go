//go:build linux

package tests

import (
	"strings"
	"testing"

	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// TestNetworkConfigRewrite: writing a container's config keeps its
// addresses: the refused rewrite of a running container does not free its
// --ip for another container, and the rewrite of a created container keeps
// the address it was handed.
func TestNetworkConfigRewrite(t *testing.T) {
	d := startDaemon(t)
	subnet := netdrvtest.FreeSubnet(t, 24)
	d.mustDctl("network", "create", "--subnet", subnet.String(), "rw")
	ip := subnet.Addr().Next().Next().Next().Next().Next().String() // .5
	d.mustDctl("run", "-d", "--name", "st", "--network", "rw", "--ip", ip, "busybox", "sleep", "300")
	rewrite := func(name string) (string, error) {
		_, errOut, err := d.trySh("cfg=$(cat containers/" + name + "/config) && printf '%s' \"$cfg\" > containers/" + name + "/config")
		return errOut, err
	}
	if errOut, err := rewrite("st"); err == nil || !strings.Contains(errOut, "busy") {
		t.Errorf("rewriting the config of a running container: %v %q, want busy", err, errOut)
	}
	if _, errOut, code := d.dctl("create", "--name", "thief", "--network", "rw", "--ip", ip, "busybox", "true"); code == 0 || !strings.Contains(errOut, "in use") {
		t.Errorf("a second container with st's %s: exit %d %q, want address in use", ip, code, errOut)
	}

	d.mustDctl("create", "--name", "cr", "--network", "rw", "busybox", "true")
	before := d.inspectNet("cr").Networks["rw"].IPAddress
	for i := 0; i < 3; i++ {
		if errOut, err := rewrite("cr"); err != nil {
			t.Fatalf("rewriting the config of a created container: %v %s", err, errOut)
		}
	}
	if after := d.inspectNet("cr").Networks["rw"].IPAddress; after != before {
		t.Errorf("cr had %s, has %s after its config was rewritten", before, after)
	}
	d.mustDctl("create", "--name", "other", "--network", "rw", "busybox", "true")
	if other := d.inspectNet("other").Networks["rw"].IPAddress; other == before || other == ip {
		t.Errorf("other got %s, held by cr (%s) or st (%s)", other, before, ip)
	}
}
