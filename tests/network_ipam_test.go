//go:build linux

package tests

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// TestDockerCLINetworkIPRange: docker network create --ip-range and
// --aux-address through the stock docker CLI. Containers get addresses only
// from the range and never an auxiliary one; --ip may still pick any free
// address of the subnet; inspect shows the range and the auxiliary
// addresses; a range or an aux-address outside the subnet is refused and
// makes nothing.
func TestDockerCLINetworkIPRange(t *testing.T) {
	d := startDockerd(t)
	subnet := netdrvtest.FreeSubnet(t, 24)
	base := subnet.Addr().As4()
	at := func(last byte) netip.Addr { b := base; b[3] = last; return netip.AddrFrom4(b) }
	iprange := netip.PrefixFrom(at(16), 30) // .16 to .19
	defer d.docker("rm", "-f", "r1", "r2", "r3", "fixed")
	defer d.docker("network", "rm", "ranged")

	d.mustDocker("network", "create", "--subnet", subnet.String(), "--ip-range", iprange.String(),
		"--aux-address", "router="+at(17).String(), "--aux-address", "far="+at(200).String(), "ranged")
	want := subnet.String() + " " + iprange.String() + " map[far:" + at(200).String() + " router:" + at(17).String() + "]\n"
	if out := d.mustDocker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.IPRange}} {{.AuxiliaryAddresses}}{{end}}", "ranged"); out != want {
		t.Errorf("network inspect: %q, want %q", out, want)
	}
	// .16 to .19 less the auxiliary .17: three addresses, and no fourth.
	got := map[string]bool{}
	for _, name := range []string{"r1", "r2", "r3"} {
		d.mustDocker("run", "-d", "--name", name, "--network", "ranged", "busybox", "sleep", "300")
		ip := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.NetworkSettings.Networks.ranged.IPAddress}}", name))
		a, err := netip.ParseAddr(ip)
		if err != nil || !iprange.Contains(a) || a == at(17) {
			t.Errorf("container %s got %q, want an address of %s other than %s", name, ip, iprange, at(17))
		}
		got[ip] = true
	}
	if len(got) != 3 {
		t.Errorf("three containers got %v, want three addresses", got)
	}
	if _, errOut, code := d.docker("run", "--rm", "--network", "ranged", "busybox", "true"); code == 0 || !strings.Contains(errOut, "no free address") {
		t.Errorf("a fourth container in a range of three: exit %d, %q", code, errOut)
	}
	// --ip: any free address of the subnet, but not an auxiliary one.
	if out := d.mustDocker("run", "--rm", "--network", "ranged", "--ip", at(100).String(), "busybox", "ip", "-4", "-o", "addr", "show", "eth0"); !strings.Contains(out, at(100).String()+"/24") {
		t.Errorf("--ip %s outside the range: %q", at(100), out)
	}
	if _, errOut, code := d.docker("run", "--rm", "--network", "ranged", "--ip", at(200).String(), "busybox", "true"); code == 0 || !strings.Contains(errOut, "already in use") {
		t.Errorf("--ip on the auxiliary address %s: exit %d, %q", at(200), code, errOut)
	}

	// Refused, naming the address, and nothing made.
	spare := netdrvtest.FreeSubnet(t, 24)
	gw := spare.Addr().Next()
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--subnet", spare.String(), "--ip-range", "10.255.255.0/28"}, "no matching subnet for range"},
		{[]string{"--subnet", spare.String(), "--aux-address", "a=10.255.255.1"}, "no matching subnet for aux-address"},
		{[]string{"--subnet", spare.String(), "--aux-address", "gw=" + gw.String()}, "Address already in use"},
	} {
		args := append(append([]string{"network", "create"}, tc.args...), "wrong")
		if _, errOut, code := d.docker(args...); code == 0 || !strings.Contains(errOut, tc.msg) {
			t.Errorf("docker %v: exit %d, %q, want %q", args, code, errOut, tc.msg)
			d.docker("network", "rm", "wrong")
		}
	}
	if out := d.mustDocker("network", "ls", "-q", "--filter", "name=wrong"); out != "" {
		t.Errorf("refused creates left networks: %q", out)
	}

	// dctl takes the same flags.
	defer d.docker("network", "rm", "dranged")
	d.mustDctl("network", "create", "--subnet", spare.String(), "--ip-range", netip.PrefixFrom(spare.Addr(), 28).String(),
		"--aux-address", "gw2="+gw.Next().String(), "dranged")
	want = spare.String() + " " + netip.PrefixFrom(spare.Addr(), 28).String() + " map[gw2:" + gw.Next().String() + "]\n"
	if out := d.mustDocker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.IPRange}} {{.AuxiliaryAddresses}}{{end}}", "dranged"); out != want {
		t.Errorf("network inspect of dctl's network: %q, want %q", out, want)
	}
}

// TestDockerCLINetworkNames: docker takes any name that is not blank,
// spaces included; so does enginefs (but for '/', which would be a path in
// the tree), through the docker CLI and dctl.
func TestDockerCLINetworkNames(t *testing.T) {
	d := startDockerd(t)
	defer d.docker("network", "rm", "my net", "a:b", "c$d")
	for _, name := range []string{"my net", "a:b", "c$d"} {
		if _, errOut, code := d.docker("network", "create", name); code != 0 {
			t.Errorf("network create %q: exit %d, %s", name, code, errOut)
			continue
		}
		if out := d.mustDocker("network", "inspect", "-f", "{{.Name}}", name); out != name+"\n" {
			t.Errorf("network inspect %q: %q", name, out)
		}
	}
	if out, _, _ := d.dctl("network", "ls"); !strings.Contains(out, "my net") {
		t.Errorf("dctl network ls does not show \"my net\": %q", out)
	}
	d.mustDocker("run", "--rm", "--network", "my net", "busybox", "true")
	if _, errOut, code := d.docker("network", "create", " "); code == 0 || !strings.Contains(errOut, "invalid name") {
		t.Errorf("a blank name: exit %d, %q", code, errOut)
	}
	if _, errOut, code := d.docker("network", "create", "a/b"); code == 0 || !strings.Contains(errOut, "'/'") {
		t.Errorf("a name with '/': exit %d, %q", code, errOut)
	}
}

// TestDockerCLILinks: legacy --link NAME[:ALIAS] on the default bridge, as
// docker has it: the linking container reaches the linked one by alias
// and by name (an /etc/hosts line: alias, hostname, name) and gets the
// NAME_PORT_..., NAME_NAME and NAME_ENV_... variables of its exposed ports
// and environment; a link to a container that is missing or not running
// is refused, and so is a link on the host network.
func TestDockerCLILinks(t *testing.T) {
	d := startDockerd(t)
	defer d.docker("rm", "-f", "web", "client", "stopped")
	id := strings.TrimSpace(d.mustDocker("run", "-d", "--name", "web", "--expose", "80", "-e", "GREETING=hello there", "busybox",
		"sh", "-c", "mkdir -p /srv; echo linked-page > /srv/index.html; exec httpd -f -p 80 -h /srv"))
	ip := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"))
	if _, err := netip.ParseAddr(ip); err != nil {
		t.Fatalf("web's address on the default bridge: %q", ip)
	}

	out := d.mustDocker("run", "--name", "client", "--link", "web:w", "busybox", "sh", "-c", "grep -w w /etc/hosts; env | sort")
	if want := ip + "\tw " + id[:12] + " web\n"; !strings.HasPrefix(out, want) {
		t.Errorf("/etc/hosts of the linking container: %q, want the line %q", out, want)
	}
	for _, kv := range []string{
		"W_PORT=tcp://" + ip + ":80", "W_PORT_80_TCP=tcp://" + ip + ":80", "W_PORT_80_TCP_ADDR=" + ip,
		"W_PORT_80_TCP_PORT=80", "W_PORT_80_TCP_PROTO=tcp", "W_NAME=/client/w", "W_ENV_GREETING=hello there",
	} {
		if !strings.Contains(out, "\n"+kv+"\n") {
			t.Errorf("the linking container's environment lacks %s:\n%s", kv, out)
		}
	}
	if out := d.mustDocker("inspect", "-f", "{{json .HostConfig.Links}}", "client"); out != `["/web:/client/w"]`+"\n" {
		t.Errorf("inspect's HostConfig.Links: %q", out)
	}
	if strings.Contains(out, "W_ENV_PATH=") {
		t.Errorf("W_ENV_PATH is set; docker leaves PATH and HOME out:\n%s", out)
	}
	// By alias, and by name when the alias is the name.
	if out := d.mustDocker("run", "--rm", "--link", "web:w", "busybox", "wget", "-qO-", "http://w/"); out != "linked-page\n" {
		t.Errorf("wget http://w/ through the link: %q", out)
	}
	if out := d.mustDocker("run", "--rm", "--link", "web", "busybox", "wget", "-qO-", "http://web/"); out != "linked-page\n" {
		t.Errorf("wget http://web/ through --link web: %q", out)
	}
	// dctl has --link too.
	if out := d.mustDctl("run", "--rm", "--link", "web:www", "busybox", "wget", "-qO-", "http://www/"); out != "linked-page\n" {
		t.Errorf("dctl run --link web:www, wget http://www/: %q", out)
	}

	// Refused.
	d.mustDocker("create", "--name", "stopped", "busybox", "true")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--link", "nosuch:x"}, "nosuch"},
		{[]string{"--link", "stopped:s"}, "Cannot link to a non running container"},
		{[]string{"--network", "host", "--link", "web:w"}, "conflicting options"},
	} {
		args := append(append([]string{"run", "--rm"}, tc.args...), "busybox", "true")
		if _, errOut, code := d.docker(args...); code == 0 || !strings.Contains(errOut, tc.msg) {
			t.Errorf("docker %v: exit %d, %q, want %q", args, code, errOut, tc.msg)
		}
	}
}
