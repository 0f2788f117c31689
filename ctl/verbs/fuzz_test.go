package verbs

import (
	"errors"
	"path"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/voldrv"
)

// FuzzGrammar: every grammar reads any line without panicking, refuses
// with a *ctl.Error of class errdefs.ErrInvalid, and a verb it reads
// formats back (Line, Format) to what reads as the same verb.
func FuzzGrammar(f *testing.F) {
	for _, s := range []string{
		"create image=busybox name=web env=A=1 publish=127.0.0.1:8080:80/udp volume=/host:/ctr:ro,z -- sh -c 'echo hi'",
		"create image=b mount='type=bind,src=/a,dst=/b,readonly' entrypoint= rm= tty=true",
		"stop 10 signal=INT", "rm force volumes", "rm volumes force force", "kill", "resize 24 80", "rename x=y",
		"commit x:1 pause=false change='CMD a' change=ENV=b", "create user=u -- id -u", "logs stdout=false tail=5 follow",
		"pull localhost:5000/a/b:tag platform=linux/amd64", "save a b /tmp/x.tar", "rm force force", "prune all",
		"login reg user=u password= save=no", "tag 'a=b' c", "create n internal internal=false opt=a=b",
		"connect c ip=10.0.0.2 alias=a alias=b", "create", "build t=a:1 t=b no-cache=1 -- x", "import r change=x",
		"cancel", "start -- x", "x #comment", "'quoted verb'", "create image=\xff", "create -- ''",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, g := range grammars {
			v, err := g.grammar.Parse(line)
			if err != nil {
				var ce *ctl.Error
				if !errors.As(err, &ce) || !errors.Is(err, errdefs.ErrInvalid) {
					t.Fatalf("%s: Parse(%q) = %v, not a *ctl.Error of class ErrInvalid", g.file, line, err)
				}
				continue
			}
			known := false
			for _, proto := range g.grammar {
				known = known || reflect.TypeOf(proto) == reflect.TypeOf(v)
			}
			if !known {
				t.Fatalf("%s: Parse(%q) = a %T, not one of the grammar's", g.file, line, v)
			}
			back, err := g.grammar.Parse(Line(v))
			if err != nil || !reflect.DeepEqual(back, v) {
				t.Fatalf("%s: Parse(%q) = %#v, then Parse(Line) = Parse(%q) = %#v, %v", g.file, line, v, Line(v), back, err)
			}
			pv := reflect.New(reflect.TypeOf(v))
			if err := Parse(Format(v), pv.Interface().(Verb)); err != nil || !reflect.DeepEqual(pv.Elem().Interface(), v) {
				t.Fatalf("%s: Parse(Format(%#v)) = %#v, %v", g.file, v, pv.Elem().Interface(), err)
			}
		}
	})
}

// checkMount checks what a mount ParseMount returned promises: a type
// it knows, an absolute clean target other than /, an absolute clean
// source for a bind, a volume's name, no source for a tmpfs.
func checkMount(t *testing.T, s string, m mount.Mount) {
	t.Helper()
	if !path.IsAbs(m.Target) || path.Clean(m.Target) != m.Target || m.Target == "/" || strings.ContainsRune(m.Target, 0) {
		t.Fatalf("ParseMount(%q): target %q", s, m.Target)
	}
	switch m.Type {
	case mount.TypeBind:
		if !path.IsAbs(m.Source) || path.Clean(m.Source) != m.Source || strings.ContainsRune(m.Source, 0) {
			t.Fatalf("ParseMount(%q): bind source %q", s, m.Source)
		}
	case mount.TypeVolume:
		if m.Source != "" && voldrv.CheckName(m.Source) != nil {
			t.Fatalf("ParseMount(%q): volume name %q", s, m.Source)
		}
	case mount.TypeTmpfs:
		if m.Source != "" {
			t.Fatalf("ParseMount(%q): tmpfs source %q", s, m.Source)
		}
		if o := m.TmpfsOptions; o != nil && (o.SizeBytes < 0 || o.Mode&^0o7777 != 0) {
			t.Fatalf("ParseMount(%q): tmpfs options %+v", s, *o)
		}
	default:
		t.Fatalf("ParseMount(%q): type %q", s, m.Type)
	}
}

// FuzzParseMount: ParseMount refuses with errdefs.ErrInvalid, returns
// mounts that keep checkMount's promises, and what it returns FormatMount
// writes as a value it reads back the same.
func FuzzParseMount(f *testing.F) {
	for _, tc := range mounts {
		f.Add(tc.spec)
	}
	for _, s := range []string{
		"type=bind,src=/a,dst=/b,readonly", "type=bind,source=/a/../b/,target=/c/./d/", "type=volume,dst=/data,volume-nocopy=false",
		"type=tmpfs,dst=/tmp,tmpfs-mode=1777", "type=tmpfs,dst=/t,tmpfs-mode=777777", "type=bind,src=/a,dst=/b\ntype=bind,src=/c,dst=/d",
		"type=bind,src=/a,dst=/b,bind-propagation=", "type=volume,dst=/v,volume-driver=", "type=volume,dst=/v,volume-opt=", "TYPE=Bind,SRC=/a,DST=/b,RO=1",
		`"type=volume","dst=/a,b",volume-label=x=y`, "dst=/x\x00y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMount(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("ParseMount(%q): %v is not ErrInvalid", s, err)
			}
			return
		}
		checkMount(t, s, m)
		out, err := FormatMount(m)
		if err != nil {
			t.Fatalf("FormatMount(ParseMount(%q)): %v", s, err)
		}
		back, err := ParseMount(out)
		if err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("ParseMount(%q) = %+v; ParseMount(FormatMount) = ParseMount(%q) = %+v, %v", s, m, out, back, err)
		}
	})
}

// formatBind writes b as a -v value.
func formatBind(b Bind) string {
	s := b.Destination
	switch {
	case b.Name != "":
		s = b.Name + ":" + s
	case b.Source != "":
		s = b.Source + ":" + s
	}
	if b.Mode != "" {
		s += ":" + b.Mode
	}
	return s
}

// FuzzParseBind: ParseBind refuses with errdefs.ErrInvalid; a -v value
// it reads has an absolute clean destination other than /, a bind's
// absolute clean source or a volume's valid name, is read-only exactly
// when its mode says ro, reads back the same when written again, and
// the engine's ParseBind (which checks a config's binds) reads it alike.
func FuzzParseBind(f *testing.F) {
	for _, s := range []string{"/data", "vol:/data", "vol:/data:ro,nocopy", "/srv/x/:/x:rw,rslave", "/host:/ctr:ro,z", "/srv:/srv:Z",
		"/a/../b:/c/./d/", "vol:/data:ro,rw", "a:/b:c:d", "vol:/", "/h:/c:nocopy", "x:/data", "/h:/c:,,", "/h\x00:/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBind(s)
		mp, eerr := engine.ParseBind(s)
		if (err == nil) != (eerr == nil) {
			t.Fatalf("ParseBind(%q) = %v; engine.ParseBind = %v", s, err, eerr)
		}
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("ParseBind(%q): %v is not ErrInvalid", s, err)
			}
			return
		}
		if !path.IsAbs(b.Destination) || path.Clean(b.Destination) != b.Destination || b.Destination == "/" {
			t.Fatalf("ParseBind(%q): destination %q", s, b.Destination)
		}
		switch {
		case b.Type == mount.TypeBind:
			if !path.IsAbs(b.Source) || path.Clean(b.Source) != b.Source || b.Name != "" || b.Anonymous {
				t.Fatalf("ParseBind(%q) = %+v", s, b)
			}
		case b.Type == mount.TypeVolume && b.Anonymous:
			if b.Name != "" || b.Source != "" {
				t.Fatalf("ParseBind(%q) = %+v", s, b)
			}
		case b.Type == mount.TypeVolume:
			if voldrv.CheckName(b.Name) != nil || b.Source != "" {
				t.Fatalf("ParseBind(%q) = %+v", s, b)
			}
		default:
			t.Fatalf("ParseBind(%q): type %q", s, b.Type)
		}
		if ro := strings.Contains(","+b.Mode+",", ",ro,"); b.RW == ro {
			t.Fatalf("ParseBind(%q): RW %v with mode %q", s, b.RW, b.Mode)
		}
		if back, err := ParseBind(formatBind(b)); err != nil || !reflect.DeepEqual(back, b) {
			t.Fatalf("ParseBind(%q) = %+v; ParseBind(%q) = %+v, %v", s, b, formatBind(b), back, err)
		}
		if mp.Type != b.Type || mp.Name != b.Name || mp.Source != b.Source || mp.Destination != b.Destination ||
			mp.RW != b.RW || mp.Propagation != b.Propagation || mp.NoCopy != b.NoCopy || mp.Anonymous != b.Anonymous {
			t.Fatalf("ParseBind(%q) = %+v; engine.ParseBind = %+v", s, b, mp)
		}
	})
}

// FuzzParsePublish: ParsePublish refuses with errdefs.ErrInvalid; the
// ports it returns are tcp or udp in 1..65535, bound on an IPv4 address
// or none and a host port (or range) in 0..65535, within MaxPorts, and
// each binding, written with FormatPublish, reads back the same.
// ParseExpose reads the value's container part to the same ports.
func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{"80", "8080:80", "127.0.0.1:8080:80/udp", "127.0.0.1::53/udp", "8000-8010:80-90", "[::1]:80:80",
		"8080-8081:80", "80-81", "1-65535", "0:80", "70000:80", "80/sctp", "::80:1", "1.2.3:80:80", "[127.0.0.1]:80:80/TCP", "80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exposed, bindings, err := ParsePublish([]string{s})
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("ParsePublish(%q): %v is not ErrInvalid", s, err)
			}
			return
		}
		n := 0
		for p := range exposed {
			if v := p.Int(); v < 1 || v > 65535 || p.Proto() != "tcp" && p.Proto() != "udp" || string(p) != p.Port()+"/"+p.Proto() {
				t.Fatalf("ParsePublish(%q): port %q", s, p)
			}
			if len(bindings[p]) == 0 {
				t.Fatalf("ParsePublish(%q): port %q has no binding", s, p)
			}
		}
		for p, bs := range bindings {
			if _, ok := exposed[p]; !ok {
				t.Fatalf("ParsePublish(%q): binding of %q not exposed", s, p)
			}
			for _, b := range bs {
				n++
				if lo, hi, err := nat.ParsePortRangeToInt(b.HostPort); err != nil || lo < 0 || hi > 65535 || lo > hi {
					t.Fatalf("ParsePublish(%q): host port %q", s, b.HostPort)
				}
				spec := FormatPublish(p, b)
				e2, b2, err := ParsePublish([]string{spec})
				if _, ok := e2[p]; err != nil || !ok || len(e2) != 1 || !reflect.DeepEqual(b2[p], []nat.PortBinding{b}) {
					t.Fatalf("ParsePublish(%q): %s %+v written %q reads %v %v, %v", s, p, b, spec, e2, b2, err)
				}
			}
		}
		if n > MaxPorts {
			t.Fatalf("ParsePublish(%q): %d bindings", s, n)
		}
		// --expose of the container part gives the same ports.
		cport := s[strings.LastIndexByte(s, ':')+1:]
		ex, err := ParseExpose([]string{cport})
		if err != nil || !reflect.DeepEqual(ex, exposed) {
			t.Fatalf("ParsePublish(%q) exposes %v; ParseExpose(%q) = %v, %v", s, exposed, cport, ex, err)
		}
	})
}
