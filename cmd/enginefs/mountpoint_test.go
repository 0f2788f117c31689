package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
)

func TestParseMountinfo(t *testing.T) {
	const info = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
97 22 0:52 / /mnt/engine rw,nosuid,nodev,relatime shared:50 - fuse.enginefs enginefs rw,user_id=0,group_id=0
98 97 0:53 / /mnt/engine rw,nosuid,nodev,relatime shared:51 - fuse.enginefs enginefs rw,user_id=0,group_id=0
99 22 0:54 / /tmp/with\040space rw - tmpfs tmpfs rw
garbage line
`
	entries := parseMountinfo(info)
	if len(entries) != 4 {
		t.Fatalf("parsed %d entries, want 4: %+v", len(entries), entries)
	}
	for _, tc := range []struct {
		name, point, fstype string
		found               bool
	}{
		{"top of a stack", "/mnt/engine", "fuse.enginefs", true},
		{"escaped space", "/tmp/with space", "tmpfs", true},
		{"root", "/", "ext4", true},
		{"not a mount", "/mnt", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := topMount(entries, tc.point)
			if ok != tc.found || m.fstype != tc.fstype {
				t.Errorf("topMount(%q) = %+v, %v; want type %q, %v", tc.point, m, ok, tc.fstype, tc.found)
			}
		})
	}
	if m, _ := topMount(entries, "/mnt/engine"); m.source != "enginefs" {
		t.Errorf("source = %q", m.source)
	}
}

func TestCheckNinepTCP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		addrs    []string
		insecure bool
		wantErr  bool
	}{
		{"unix only", []string{"unix:/run/enginefs/9p.sock"}, false, false},
		{"tcp refused", []string{"unix:/x.sock", "tcp:127.0.0.1:5640"}, false, true},
		{"tcp allowed", []string{"tcp:127.0.0.1:5640"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkNinepTCP(tc.addrs, tc.insecure)
			if (err != nil) != tc.wantErr {
				t.Fatalf("checkNinepTCP(%v, %v) = %v", tc.addrs, tc.insecure, err)
			}
			if err != nil && (!errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "--insecure-tcp") || !strings.Contains(err.Error(), "tcp:127.0.0.1:5640")) {
				t.Errorf("error %q: want ErrInvalid naming the address and --insecure-tcp", err)
			}
		})
	}
}

func TestMountFlag(t *testing.T) {
	for _, tc := range []struct {
		cwd  string
		args []string
		want string
	}{
		{"/", nil, "/mnt/engine"},
		{"/", []string{"--state", "/s", "--mount", "/srv/m"}, "/srv/m"},
		{"/", []string{"--mount=/srv/m2"}, "/srv/m2"},
		{"/srv", []string{"--mount", "rel"}, "/srv/rel"},
	} {
		if got := mountFlag(tc.cwd, tc.args); got != tc.want {
			t.Errorf("mountFlag(%q, %q) = %q, want %q", tc.cwd, tc.args, got, tc.want)
		}
	}
}
