// Package firewall keeps the netfilter rules of the engine's bridge
// networks, as docker's iptables rules do: networks are isolated from each
// other, an internal network reaches nothing beyond its bridge, no
// connection from beyond the host reaches a container unless through a
// published port (the daemon's proxy), and what the other bridge networks
// send out of the host is masqueraded. While a bridge network that is not
// internal exists, the host forwards IPv4 (net.ipv4.ip_forward=1, as
// dockerd sets it; it stays on after the daemon).
//
// The rules live in one nftables table per daemon (family inet), made over
// netlink with github.com/google/nftables: no nft or iptables binary runs.
// The table is named after the daemon (TableName: its run directory), so
// that daemons side by side, each with bridges of its own, never touch
// each other's rules; and it holds nothing else, so each change replaces
// it whole in one netlink transaction (the kernel applies all of it or
// nothing), from the networks the engine has then:
//
//	table inet enginefs-<hash> {
//		set bridges { type ifname; elements = { every bridge } }
//		chain forward {
//			type filter hook forward priority filter; policy accept;
//			ct state established,related accept
//			iifname INTERNAL oifname != INTERNAL drop    # each internal bridge, both ways
//			oifname INTERNAL iifname != INTERNAL drop
//			iifname INTERNAL accept
//			iifname BR oifname @bridges oifname != BR drop   # each other bridge
//			iifname BR accept
//			oifname @bridges drop   # no connection from elsewhere into a bridge
//		}
//		chain postrouting {
//			type nat hook postrouting priority srcnat; policy accept;
//			ip saddr SUBNET oifname != BR masquerade   # each bridge that is not internal
//		}
//	}
//
// Rules of other tables (docker's, podman's, a host firewall) still apply:
// an accept here is no accept there, and a drop anywhere is final.
//
// Entry points: New, Firewall.Sync, Firewall.Remove.
package firewall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/netdrv"
	"github.com/enginefs/enginefs/netdrv/bridge"
)

// Firewall is the nftables table of one daemon. It is safe for concurrent
// use.
type Firewall struct {
	table string
	netns int // a network namespace's fd, for tests; 0 is the daemon's

	mu sync.Mutex // one transaction at a time
}

var _ netdrv.Firewall = (*Firewall)(nil)

// TableName returns the name of the table of the daemon whose run
// directory is runDir: "enginefs-" and 8 hex digits of a hash of its
// absolute path.
func TableName(runDir string) string {
	if abs, err := filepath.Abs(runDir); err == nil {
		runDir = abs
	}
	sum := sha256.Sum256([]byte(runDir))
	return "enginefs-" + hex.EncodeToString(sum[:4])
}

// Option configures New.
type Option func(*Firewall)

// WithNetNS makes the rules in the network namespace of the file
// descriptor fd instead of the daemon's (for tests). The caller keeps fd
// open while the firewall is used.
func WithNetNS(fd int) Option { return func(f *Firewall) { f.netns = fd } }

// New returns the firewall of the table named table. It first checks that
// the kernel has what the rules need (nf_tables with the inet family, NAT
// and conntrack) by making a table of the same kind and removing it in the
// same transaction; the error of a kernel that lacks them is an
// errdefs.ErrUnavailable error naming what failed.
func New(table string, opts ...Option) (*Firewall, error) {
	f := &Firewall{table: table}
	for _, o := range opts {
		o(f)
	}
	probe := &nftables.Table{Name: table + "-probe", Family: nftables.TableFamilyINet}
	err := f.transact(func(c *nftables.Conn) {
		c.AddTable(probe)
		fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: probe, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
		nat := c.AddChain(&nftables.Chain{Name: "postrouting", Table: probe, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
		c.AddRule(&nftables.Rule{Table: probe, Chain: fwd, Exprs: established()})
		c.AddRule(&nftables.Rule{Table: probe, Chain: nat, Exprs: []expr.Any{&expr.Masq{}}})
		c.DelTable(probe)
	})
	if err != nil {
		return nil, errdefs.Unavailable("nftables (nf_tables with inet NAT, masquerade and conntrack): %w", err)
	}
	return f, nil
}

// Sync makes the table hold the rules of nets (their bridges; networks of
// other drivers have none), replacing what it held.
func (f *Firewall) Sync(ctx context.Context, nets []netdrv.Network) error {
	var bridges []netdrv.Network
	for _, n := range nets {
		if n.Driver == bridge.Name {
			bridges = append(bridges, n)
		}
	}
	sort.Slice(bridges, func(i, j int) bool { return bridge.BridgeName(bridges[i]) < bridge.BridgeName(bridges[j]) })
	if f.netns == 0 && slices.ContainsFunc(bridges, func(n netdrv.Network) bool { return !n.Internal }) {
		if err := enableForwarding(); err != nil {
			return fmt.Errorf("firewall table %s: %w", f.table, err)
		}
	}
	t := &nftables.Table{Name: f.table, Family: nftables.TableFamilyINet}
	var setErr error
	err := f.transact(func(c *nftables.Conn) {
		// Adding first makes the delete succeed when there is no table.
		c.AddTable(t)
		c.DelTable(t)
		c.AddTable(t)
		set := &nftables.Set{Table: t, Name: "bridges", KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
		var elems []nftables.SetElement
		for _, n := range bridges {
			elems = append(elems, nftables.SetElement{Key: ifname(bridge.BridgeName(n))})
		}
		if setErr = c.AddSet(set, elems); setErr != nil {
			return
		}
		fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
		nat := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
		rule := func(ch *nftables.Chain, e ...expr.Any) { c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: e}) }
		rule(fwd, established()...)
		for _, n := range bridges {
			br := bridge.BridgeName(n)
			if n.Internal {
				rule(fwd, concat(is(expr.MetaKeyIIFNAME, br), isNot(expr.MetaKeyOIFNAME, br), verdict(expr.VerdictDrop))...)
				rule(fwd, concat(is(expr.MetaKeyOIFNAME, br), isNot(expr.MetaKeyIIFNAME, br), verdict(expr.VerdictDrop))...)
				// What is left is the bridge's own traffic (seen here
				// where br_netfilter passes bridged packets to IP).
				rule(fwd, concat(is(expr.MetaKeyIIFNAME, br), verdict(expr.VerdictAccept))...)
				continue
			}
			rule(fwd, concat(is(expr.MetaKeyIIFNAME, br), in(expr.MetaKeyOIFNAME, set), isNot(expr.MetaKeyOIFNAME, br), verdict(expr.VerdictDrop))...)
			rule(fwd, concat(is(expr.MetaKeyIIFNAME, br), verdict(expr.VerdictAccept))...)
			if n.Subnet.IsValid() && n.Subnet.Addr().Is4() {
				rule(nat, concat(from(n.Subnet), isNot(expr.MetaKeyOIFNAME, br), []expr.Any{&expr.Masq{}})...)
			}
		}
		// Nothing else enters a bridge: a host that forwards must not
		// route other machines' connections to the containers (published
		// ports go through the daemon's proxy, not through here).
		rule(fwd, concat(in(expr.MetaKeyOIFNAME, set), verdict(expr.VerdictDrop))...)
	})
	if setErr != nil {
		return fmt.Errorf("firewall table %s: %w", f.table, setErr)
	}
	if err != nil {
		return fmt.Errorf("firewall table %s: %w", f.table, err)
	}
	return nil
}

// Remove deletes the table; a table that is not there is not an error.
func (f *Firewall) Remove(ctx context.Context) error {
	t := &nftables.Table{Name: f.table, Family: nftables.TableFamilyINet}
	if err := f.transact(func(c *nftables.Conn) { c.AddTable(t); c.DelTable(t) }); err != nil {
		return fmt.Errorf("firewall table %s: %w", f.table, err)
	}
	return nil
}

// forwardingPath is the host's IPv4 forwarding switch.
const forwardingPath = "/proc/sys/net/ipv4/ip_forward"

// enableForwarding turns on the host's IPv4 forwarding, which a bridge
// network's containers need to reach beyond the host, as dockerd does at
// start; it stays on after the daemon stops (other software may count on
// it by then).
func enableForwarding() error {
	b, err := os.ReadFile(forwardingPath)
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(forwardingPath, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("turning on IPv4 forwarding: %w", err)
	}
	return nil
}

// transact queues what fill adds and sends it as one transaction.
func (f *Firewall) transact(fill func(c *nftables.Conn)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var opts []nftables.ConnOption
	if f.netns != 0 {
		opts = append(opts, nftables.WithNetNSFd(f.netns))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return err
	}
	fill(c)
	return c.Flush()
}

// The expressions rules are made of. Register 1 holds what is compared.

// ifname returns an interface name as nftables compares it: IFNAMSIZ
// bytes, zero-padded.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func meta(key expr.MetaKey) expr.Any { return &expr.Meta{Key: key, Register: 1} }

// is matches an interface name key (iifname, oifname) equal to name.
func is(key expr.MetaKey, name string) []expr.Any {
	return []expr.Any{meta(key), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(name)}}
}

// isNot matches an interface name key other than name.
func isNot(key expr.MetaKey, name string) []expr.Any {
	return []expr.Any{meta(key), &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname(name)}}
}

// in matches an interface name key that is in set.
func in(key expr.MetaKey, set *nftables.Set) []expr.Any {
	return []expr.Any{meta(key), &expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID}}
}

// from matches IPv4 packets from an address of subnet.
func from(subnet netip.Prefix) []expr.Any {
	m := make([]byte, 4)
	for i := 0; i < subnet.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	a := subnet.Masked().Addr().As4()
	return []expr.Any{
		meta(expr.MetaKeyNFPROTO),
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

// established accepts the packets of connections the rules let through
// (and what they relate to: ICMP errors, FTP data).
func established() []expr.Any {
	state := binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED)
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: state, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
