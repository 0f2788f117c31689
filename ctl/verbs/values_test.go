package verbs

import (
	"errors"
	"testing"

	"github.com/docker/go-units"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/errdefs"
)

func TestValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"64m", 64 << 20}, {"1g", 1 << 30}, {"512k", 512 << 10}, {"100", 100}, {"-1", -1}} {
		if n, err := ParseSize(tc.in); err != nil || n != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, n, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want int64
	}{{"0.5", 5e8}, {"2", 2e9}, {"1.25", 1.25e9}} {
		if n, err := ParseCPUs(tc.in); err != nil || n != tc.want {
			t.Errorf("ParseCPUs(%q) = %d, %v", tc.in, n, err)
		}
		if s := FormatCPUs(tc.want); s != tc.in {
			t.Errorf("FormatCPUs(%d) = %q, want %q", tc.want, s, tc.in)
		}
	}
	for _, tc := range []struct {
		in   string
		name string
		max  int
	}{{"always", "always", 0}, {"on-failure:3", "on-failure", 3}, {"no", "no", 0}} {
		if name, max, err := ParseRestart(tc.in); err != nil || name != tc.name || max != tc.max {
			t.Errorf("ParseRestart(%q) = %q %d %v", tc.in, name, max, err)
		}
		if s := FormatRestart(tc.name, tc.max); s != tc.in {
			t.Errorf("FormatRestart(%q, %d) = %q", tc.name, tc.max, s)
		}
	}
	if cs, err := ParseConsoleSize("30x100"); err != nil || cs != [2]uint{30, 100} || FormatConsoleSize(cs) != "30x100" {
		t.Errorf("ParseConsoleSize(30x100) = %v, %v", cs, err)
	}
	for _, tc := range []struct {
		in   string
		want units.Ulimit
		out  string
	}{
		{"nofile=10:20", units.Ulimit{Name: "nofile", Soft: 10, Hard: 20}, "nofile=10:20"},
		{"nproc=5", units.Ulimit{Name: "nproc", Soft: 5, Hard: 5}, "nproc=5:5"},
	} {
		if u, err := ParseUlimit(tc.in); err != nil || u != tc.want || FormatUlimit(u) != tc.out {
			t.Errorf("ParseUlimit(%q) = %+v, %v (%q)", tc.in, u, err, FormatUlimit(u))
		}
	}
	for _, tc := range [][3]string{{"/t:size=64m,mode=1777", "/t", "size=64m,mode=1777"}, {"/u", "/u", ""}} {
		if dst, opts := ParseTmpfs(tc[0]); dst != tc[1] || opts != tc[2] || FormatTmpfs(dst, opts) != tc[0] {
			t.Errorf("ParseTmpfs(%q) = %q %q", tc[0], dst, opts)
		}
	}

	bad := map[string]func(string) error{
		"size":         func(s string) error { _, err := ParseSize(s); return err },
		"cpus":         func(s string) error { _, err := ParseCPUs(s); return err },
		"restart":      func(s string) error { _, _, err := ParseRestart(s); return err },
		"console-size": func(s string) error { _, err := ParseConsoleSize(s); return err },
		"ulimit":       func(s string) error { _, err := ParseUlimit(s); return err },
	}
	for what, values := range map[string][]string{
		"size": {"", "lots", "-2"}, "cpus": {"", "0", "-1", "x"}, "restart": {"on-failure:x"},
		"console-size": {"", "30", "0x10", "10x70000", "axb"}, "ulimit": {"", "nofile", "=1", "nofile=a", "nofile=1:b"},
	} {
		for _, v := range values {
			if err := bad[what](v); !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("%s %q: %v, want invalid", what, v, err)
			}
		}
	}
}

func TestSize(t *testing.T) {
	if r, c, err := (ContainerResize{Rows: "24", Cols: "80"}).Size(); err != nil || r != 24 || c != 80 {
		t.Errorf("Size = %d %d %v", r, c, err)
	}
	for _, v := range []interface {
		Verb
		Size() (uint16, uint16, error)
	}{ContainerResize{Rows: "24", Cols: "0"}, ExecResize{Rows: "x", Cols: "80"}, ExecResize{Rows: "70000", Cols: "1"}} {
		_, _, err := v.Size()
		var e *ctl.Error
		if !errors.As(err, &e) || e.Msg != "not a size" || e.Usage != "resize ROWS COLS" {
			t.Errorf("%#v: %v, want not a size", v, err)
		}
	}
}
