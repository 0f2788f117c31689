//go:build linux

package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/netdrvtest"
)

// httpdScript serves /www/index.html holding text on port 80.
func httpdScript(text string) string {
	return "mkdir -p /www && echo " + text + " > /www/index.html && exec httpd -f -p 80 -h /www"
}

// inspectNet reads the network settings of a container from inspect.
func (d *daemon) inspectNet(ref string) (settings struct {
	SandboxKey string
	Ports      map[string][]struct{ HostIP, HostPort string }
	Networks   map[string]struct {
		IPAddress, Gateway, MacAddress string
		Aliases                        []string
	}
}) {
	d.t.Helper()
	var docs []struct{ NetworkSettings json.RawMessage }
	if err := json.Unmarshal([]byte(d.mustDctl("inspect", ref)), &docs); err != nil || len(docs) != 1 {
		d.t.Fatalf("inspect %s: %v", ref, err)
	}
	if err := json.Unmarshal(docs[0].NetworkSettings, &settings); err != nil {
		d.t.Fatal(err)
	}
	return settings
}

// bridgeOf returns the bridge name of a network from its config.
func (d *daemon) bridgeOf(network string) string {
	d.t.Helper()
	var cfg struct {
		ID      string `json:"Id"`
		Options map[string]string
	}
	if err := json.Unmarshal([]byte(d.sh("cat networks/"+network+"/config")), &cfg); err != nil {
		d.t.Fatal(err)
	}
	if b := cfg.Options[netdrv.OptionBridgeName]; b != "" {
		return b
	}
	return "br-" + cfg.ID[:12]
}

// TestNetworkByName: two busybox containers on a user-defined network find
// each other by name and by alias through the embedded DNS (busybox nslookup
// and wget against busybox httpd); the network cannot be removed while they
// are attached, and its bridge is gone once it is.
func TestNetworkByName(t *testing.T) {
	d := startDaemon(t)
	subnet := netdrvtest.FreeSubnet(t, 24)
	id := strings.TrimSpace(d.mustDctl("network", "create", "--subnet", subnet.String(), "appnet"))
	if len(id) != 64 {
		t.Fatalf("network create printed %q, want an id", id)
	}
	if ls := d.mustDctl("network", "ls"); !strings.Contains(ls, "appnet") || !strings.Contains(ls, id[:12]) || !strings.Contains(ls, "bridge") {
		t.Errorf("network ls:\n%s", ls)
	}
	bridge := d.bridgeOf("appnet")
	if _, err := netlink.LinkByName(bridge); err != nil {
		t.Fatalf("bridge %s of appnet: %v", bridge, err)
	}

	d.mustDctl("run", "-d", "--name", "web", "--network", "appnet", "--network-alias", "www", "busybox", "sh", "-c", httpdScript("hello-from-web"))
	web := d.inspectNet("web").Networks["appnet"]
	if !subnet.Contains(mustAddr(t, web.IPAddress)) || web.Gateway != subnet.Addr().Next().String() || web.MacAddress == "" {
		t.Fatalf("web on appnet: %+v (subnet %s)", web, subnet)
	}
	if got := d.sh("cat networks/appnet/containers"); !strings.Contains(got, "web ") || !strings.Contains(got, web.IPAddress+"/24") {
		t.Errorf("networks/appnet/containers:\n%s", got)
	}

	out := d.mustDctl("run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
		"nslookup web; nslookup www; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web:80/ && break; sleep 0.2; done; wget -qO- http://www/; cat /etc/resolv.conf")
	for _, want := range []string{"Name:\tweb\nAddress: " + web.IPAddress, "Name:\twww\nAddress: " + web.IPAddress, "hello-from-web\nhello-from-web\n", "nameserver 127.0.0.11"} {
		if !strings.Contains(out, want) {
			t.Errorf("the client on appnet did not show %q:\n%s", want, out)
		}
	}
	// runc joins the same namespace by path.
	if _, err := exec.LookPath("runc"); err == nil {
		out := d.mustDctl("run", "--rm", "--runtime", "runc", "--network", "appnet", "-v", "runcvol:/v", "busybox", "sh", "-c",
			"wget -qO- http://www/ && echo ok > /v/f && cat /v/f")
		if out != "hello-from-web\nok\n" {
			t.Errorf("under runc on appnet with a volume: %q", out)
		}
	}
	// The container's own /etc/hosts names its address.
	if hosts := d.mustDctl("exec", "web", "cat", "/etc/hosts"); !regexp.MustCompile(regexp.QuoteMeta(web.IPAddress) + `\s`).MatchString(hosts) {
		t.Errorf("/etc/hosts of web does not name %s:\n%s", web.IPAddress, hosts)
	}
	// On the default bridge, names of appnet are not known.
	if out, _, code := d.dctl("run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0; nslookup web 127.0.0.11"); code == 0 {
		t.Errorf("a container on the default bridge resolved web:\n%s", out)
	}

	if _, errOut, code := d.dctl("network", "rm", "appnet"); code == 0 || !strings.Contains(errOut, "web") {
		t.Errorf("network rm with web attached: exit %d, %q; want a refusal naming web", code, errOut)
	}
	if _, errOut, code := d.dctl("network", "rm", "bridge"); code == 0 || !strings.Contains(errOut, "pre-defined") {
		t.Errorf("network rm bridge: exit %d, %q", code, errOut)
	}
	d.mustDctl("rm", "-f", "web")
	d.mustDctl("network", "rm", "appnet")
	if _, err := netlink.LinkByName(bridge); !netdrv.IsNotFound(err) {
		t.Errorf("bridge %s still there after network rm (%v)", bridge, err)
	}
	if ls := d.mustDctl("network", "ls"); strings.Contains(ls, "appnet") {
		t.Errorf("appnet still listed:\n%s", ls)
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return a
}

// TestNetworkModes: none has only lo; host sees the host's interfaces; the
// default network is a bridge with a default route; connect and disconnect
// work on a running container.
func TestNetworkModes(t *testing.T) {
	d := startDaemon(t)
	if out := d.mustDctl("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"); strings.Count(out, "\n") != 1 || !strings.Contains(out, ": lo:") {
		t.Errorf("--network none: links\n%s\nwant lo only", out)
	}
	// A link made on the host by this test (counting the host's links
	// would race with other tests making theirs).
	mine := netdrvtest.DummyParent(t)
	if out := d.mustDctl("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link"); !strings.Contains(out, ": "+mine+":") && !strings.Contains(out, ": "+mine+"@") {
		t.Errorf("--network host does not show the host's link %s:\n%s", mine, out)
	}
	out := d.mustDctl("run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0; ip route")
	if !strings.Contains(out, "default via ") || !strings.Contains(out, "eth0") {
		t.Errorf("the default network gave:\n%s", out)
	}

	subnet := netdrvtest.FreeSubnet(t, 24)
	d.mustDctl("network", "create", "--subnet", subnet.String(), "extra")
	d.mustDctl("run", "-d", "--name", "multi", "busybox", "sleep", "300")
	want := subnet.Addr().Next().Next().Next().Next() // .4
	d.mustDctl("network", "connect", "--ip", want.String(), "--alias", "m2", "extra", "multi")
	if out := d.mustDctl("exec", "multi", "ip", "-o", "-4", "addr"); !strings.Contains(out, "eth1") || !strings.Contains(out, want.String()+"/24") {
		t.Errorf("after connect, multi has:\n%s", out)
	}
	if ns := d.inspectNet("multi"); ns.Networks["extra"].IPAddress != want.String() || len(ns.Networks) != 2 {
		t.Errorf("inspect after connect: %+v", ns.Networks)
	}
	if _, errOut, code := d.dctl("network", "connect", "--ip", want.String(), "extra", "multi"); code == 0 {
		t.Errorf("connecting twice succeeded: %s", errOut)
	}
	if _, errOut, code := d.dctl("run", "--rm", "--network", "extra", "--ip", want.String(), "busybox", "true"); code == 0 || !strings.Contains(errOut, "in use") {
		t.Errorf("a second container with %s: exit %d, %q; want address in use", want, code, errOut)
	}
	d.mustDctl("network", "disconnect", "extra", "multi")
	if out := d.mustDctl("exec", "multi", "ip", "-o", "link"); strings.Contains(out, "eth1") {
		t.Errorf("after disconnect, multi still has eth1:\n%s", out)
	}
	// The address is free again.
	d.mustDctl("run", "--rm", "--network", "extra", "--ip", want.String(), "busybox", "true")

	for _, bad := range [][]string{
		{"run", "--rm", "--network", "nosuchnet", "busybox", "true"},
		{"run", "--rm", "--network", "none", "-p", "80", "busybox", "true"},
		{"run", "--rm", "--network-alias", "x", "busybox", "true"},
		{"network", "create", "--subnet", "10.0.0.1/8", "badnet"},
		{"network", "create", "-d", "nosuchdriver", "badnet"},
		{"network", "create", "-d", "macvlan", "badnet"},
	} {
		if _, errOut, code := d.dctl(bad...); code == 0 || errOut == "" {
			t.Errorf("dctl %v: exit %d, stderr %q; want a refusal", bad, code, errOut)
		}
	}
	if ls := d.mustDctl("network", "ls"); strings.Contains(ls, "badnet") {
		t.Errorf("a refused network was made:\n%s", ls)
	}
}

// TestPublishedPort: a port published with -p answers on 127.0.0.1 from the
// host (Go's net/http), ps shows it, a second container cannot take the same
// host port, -P publishes the exposed ports, and after a daemon restart the
// proxy serves again.
func TestPublishedPort(t *testing.T) {
	d := startDaemon(t)
	port := freeLoopbackPort(t)
	d.mustDctl("run", "-d", "--name", "site", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox", "sh", "-c", httpdScript("published"))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if got := httpGet(t, url); got != "published\n" {
		t.Errorf("GET %s = %q", url, got)
	}
	if ps := d.mustDctl("ps"); !strings.Contains(ps, fmt.Sprintf("127.0.0.1:%d->80/tcp", port)) {
		t.Errorf("ps does not show the port:\n%s", ps)
	}
	ns := d.inspectNet("site")
	if b := ns.Ports["80/tcp"]; len(b) != 1 || b[0].HostPort != fmt.Sprint(port) || b[0].HostIP != "127.0.0.1" {
		t.Errorf("inspect Ports: %+v", ns.Ports)
	}

	_, errOut, code := d.dctl("run", "-d", "--name", "clash", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "busybox", "sleep", "300")
	if code == 0 || !strings.Contains(errOut, "already in use") {
		t.Errorf("a second container on port %d: exit %d, %q; want already in use", port, code, errOut)
	}
	if st := d.sh("cat containers/clash/status"); !strings.HasPrefix(st, "created") {
		t.Errorf("clash after its failed start: %q", st)
	}

	d.mustDctl("run", "-d", "--name", "any", "--expose", "80", "-P", "busybox", "sh", "-c", httpdScript("any-port"))
	b := d.inspectNet("any").Ports["80/tcp"]
	if len(b) != 1 || b[0].HostPort == "" || b[0].HostPort == "0" || b[0].HostIP != "127.0.0.1" {
		t.Fatalf("-P gave %+v", b)
	}
	if got := httpGet(t, "http://127.0.0.1:"+b[0].HostPort+"/"); got != "any-port\n" {
		t.Errorf("-P port: %q", got)
	}

	// UDP goes through the proxy too, to a UDP echo server (built here,
	// bind-mounted: busybox has none).
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "udpecho"), "./tests/udpecho")
	build.Dir, build.Env = "..", append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building udpecho: %v\n%s", err, out)
	}
	d.mustDctl("run", "-d", "--name", "udp", "-p", "127.0.0.1::5000/udp", "-v", bin+":/opt:ro", "busybox", "/opt/udpecho", ":5000")
	ub := d.inspectNet("udp").Ports["5000/udp"]
	if len(ub) != 1 || ub[0].HostPort == "" {
		t.Fatalf("udp bindings: %+v", ub)
	}
	uc, err := net.Dial("udp", "127.0.0.1:"+ub[0].HostPort)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	reply := make([]byte, 100)
	n := 0
	for i := 0; i < 30 && n == 0; i++ { // until the server is up
		uc.Write([]byte("datagram"))
		uc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _ = uc.Read(reply)
	}
	if got := string(reply[:n]); got != "echo: datagram" {
		t.Errorf("the UDP echo through the proxy: %q", got)
	}

	// Two ports of one container: one taken by another process while the
	// daemon is down costs that one only.
	taken, kept := freeLoopbackPort(t), freeLoopbackPort(t)
	for kept == taken {
		kept = freeLoopbackPort(t)
	}
	d.mustDctl("run", "-d", "--name", "two", "-p", fmt.Sprintf("127.0.0.1:%d:80", taken), "-p", fmt.Sprintf("127.0.0.1:%d:8080", kept),
		"busybox", "sh", "-c", "mkdir -p /www && echo two > /www/index.html && exec httpd -f -p 8080 -h /www")
	d.stop()
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		t.Error("the port still answers with no daemon")
	}
	squat, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", taken))
	if err != nil {
		t.Fatal(err)
	}
	defer squat.Close()
	d.start()
	if got := httpGet(t, url); got != "published\n" {
		t.Errorf("after a daemon restart, GET %s = %q", url, got)
	}
	if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", kept)); got != "two\n" {
		t.Errorf("after a daemon restart with port %d taken, port %d of the same container: %q", taken, kept, got)
	}
	d.mustDctl("rm", "-f", "site")
	if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		t.Error("the port still answers after rm")
	}
}

// httpGet fetches url, retrying while the server starts.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	var last error
	for i := 0; i < 50; i++ {
		resp, err := c.Get(url)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == 200 {
				return string(b)
			}
			last = fmt.Errorf("status %d, %v", resp.StatusCode, err)
		} else {
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

// TestMacvlan: a macvlan network on a parent link the test makes (a dummy
// link, or an ifb or veth where the kernel has no dummy driver): two
// containers get addresses on it and reach each other by name; a running
// container connected to it and disconnected loses its interface, and its
// address is free again.
func TestMacvlan(t *testing.T) {
	needDaemon(t)
	parent := netdrvtest.DummyParent(t)
	d := startDaemon(t)
	subnet := netdrvtest.FreeSubnet(t, 24)
	d.mustDctl("network", "create", "-d", "macvlan", "--subnet", subnet.String(), "-o", "parent="+parent, "mvnet")
	d.mustDctl("run", "-d", "--name", "mvweb", "--network", "mvnet", "busybox", "sh", "-c", httpdScript("over-macvlan"))
	ip := d.inspectNet("mvweb").Networks["mvnet"].IPAddress
	if !subnet.Contains(mustAddr(t, ip)) {
		t.Fatalf("mvweb has %q, not in %s", ip, subnet)
	}
	out := d.mustDctl("run", "--rm", "--network", "mvnet", "busybox", "sh", "-c",
		"ip -o link show eth0; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://mvweb/ && break; sleep 0.2; done")
	if !strings.Contains(out, "eth0@") || !strings.Contains(out, "over-macvlan") {
		t.Errorf("the macvlan client got:\n%s", out)
	}
	if link, err := netlink.LinkByName(parent); err != nil || link.Attrs().Name != parent {
		t.Errorf("parent %s: %v", parent, err)
	}

	want := subnet.Addr().Next().Next().Next().Next().Next().Next().String() // .6
	d.mustDctl("run", "-d", "--name", "hop", "busybox", "sleep", "300")
	d.mustDctl("network", "connect", "--ip", want, "mvnet", "hop")
	if out := d.mustDctl("exec", "hop", "ip", "-o", "-4", "addr"); !strings.Contains(out, "eth1") || !strings.Contains(out, want+"/24") {
		t.Fatalf("after connect, hop has:\n%s", out)
	}
	d.mustDctl("network", "disconnect", "mvnet", "hop")
	if out := d.mustDctl("exec", "hop", "ip", "-o", "link"); strings.Contains(out, "eth1") {
		t.Errorf("after disconnect, hop still has eth1:\n%s", out)
	}
	d.mustDctl("run", "--rm", "--network", "mvnet", "--ip", want, "busybox", "true")
}

// TestNetworkState: addresses are persisted with the containers: after a
// kill -9 and a restart a container keeps its address and no other gets it;
// rm frees it; the namespaces and bridges of a clean stop are gone.
func TestNetworkState(t *testing.T) {
	d := startDaemon(t)
	subnet := netdrvtest.FreeSubnet(t, 29) // .2 to .6
	d.mustDctl("network", "create", "--subnet", subnet.String(), "small")
	d.mustDctl("create", "--name", "a", "--network", "small", "busybox", "true")
	d.mustDctl("run", "-d", "--name", "b", "--network", "small", "busybox", "sleep", "300")
	ipA := d.inspectNet("a").Networks["small"].IPAddress
	ipB := d.inspectNet("b").Networks["small"].IPAddress
	d.kill9()
	d.start()
	if got := d.inspectNet("a").Networks["small"].IPAddress; got != ipA {
		t.Errorf("a has %s after the crash, had %s", got, ipA)
	}
	seen := map[string]bool{ipA: true, ipB: true}
	for i := 0; i < 3; i++ {
		name := fmt.Sprint("n", i)
		d.mustDctl("create", "--name", name, "--network", "small", "busybox", "true")
		ip := d.inspectNet(name).Networks["small"].IPAddress
		if seen[ip] {
			t.Errorf("%s got %s, already handed out", name, ip)
		}
		seen[ip] = true
	}
	if _, errOut, code := d.dctl("create", "--name", "full", "--network", "small", "busybox", "true"); code == 0 || !strings.Contains(errOut, "no free address") {
		t.Errorf("a sixth container on a /29: exit %d, %q", code, errOut)
	}
	d.mustDctl("rm", "a")
	d.mustDctl("create", "--name", "again", "--network", "small", "busybox", "true")
	if got := d.inspectNet("again").Networks["small"].IPAddress; got != ipA {
		t.Errorf("the address a freed (%s) was not handed out again: got %s", ipA, got)
	}
	if out := d.mustDctl("exec", "b", "ip", "-o", "-4", "addr", "show", "eth0"); !strings.Contains(out, ipB+"/29") {
		t.Errorf("b after the crash:\n%s", out)
	}
	bridge := d.bridgeOf("small")
	d.mustDctl("rm", "-f", "b")
	d.stop()
	if _, err := netlink.LinkByName(bridge); !netdrv.IsNotFound(err) {
		t.Errorf("bridge %s left after the daemon stopped with nothing running (%v)", bridge, err)
	}
	if m := mountsUnder(d.run); len(m) > 0 {
		t.Errorf("namespaces left: %v", m)
	}
	d.start()
}

// TestDNSForward: a name the engine does not know is forwarded to the
// daemon's resolvers: here a DNS server the test runs on loopback, so no
// query leaves the host.
func TestDNSForward(t *testing.T) {
	needDaemon(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if r.Question[0].Qtype == mdns.TypeA {
			m.Answer = append(m.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 5}, A: net.IPv4(192, 0, 2, 77)})
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	d := startDaemon(t, "--dns-forward", pc.LocalAddr().String())
	d.mustDctl("network", "create", "--subnet", netdrvtest.FreeSubnet(t, 24).String(), "fwd")
	out := d.mustDctl("run", "--rm", "--network", "fwd", "busybox", "nslookup", "somewhere.test")
	if !strings.Contains(out, "192.0.2.77") {
		t.Errorf("nslookup somewhere.test through the embedded DNS:\n%s", out)
	}
	// On an internal network the peers resolve but other names do not go
	// out (docker's rule: a lookup would be a way out).
	d.mustDctl("network", "create", "--internal", "--subnet", netdrvtest.FreeSubnet(t, 24).String(), "inner")
	d.mustDctl("run", "-d", "--name", "peer", "--network", "inner", "busybox", "sleep", "60")
	if out := d.mustDctl("run", "--rm", "--network", "inner", "busybox", "nslookup", "peer"); !strings.Contains(out, d.inspectNet("peer").Networks["inner"].IPAddress) {
		t.Errorf("nslookup peer on an internal network:\n%s", out)
	}
	if out, _, code := d.dctl("run", "--rm", "--network", "inner", "busybox", "nslookup", "somewhere.test"); code == 0 || strings.Contains(out, "192.0.2.77") {
		t.Errorf("nslookup somewhere.test on an internal network went out (exit %d):\n%s", code, out)
	}
	d.mustDctl("rm", "-f", "peer")
}
