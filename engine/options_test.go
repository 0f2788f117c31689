//go:build linux

package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/errdefs"
)

// TestCheckOptions: bad namespace modes, hosts, resolvers and device
// rules are invalid, with dockerd's words.
func TestCheckOptions(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{PidMode: "nosuch"}, "invalid PID mode: nosuch"},
		{Config{PidMode: "container:x"}, "PID mode container:x"},
		{Config{UTSMode: "private"}, "invalid UTS mode: private"},
		{Config{UTSMode: "host", Hostname: "h"}, "conflicting options: hostname and the UTS mode"},
		{Config{IpcMode: "nosuch"}, "invalid IPC mode: nosuch"},
		{Config{IpcMode: "container:x"}, "IPC mode container:x"},
		{Config{CgroupnsMode: "x"}, "invalid cgroup namespace mode: x"},
		{Config{DeviceCgroupRules: []string{"c 1:3"}}, "invalid device cgroup format 'c 1:3'"},
		{Config{Devices: []DeviceMapping{{PathOnHost: "dev/x", PathInContainer: "/dev/x"}}}, "paths must be absolute"},
		{Config{Devices: []DeviceMapping{{PathOnHost: "/dev/x", PathInContainer: "/dev/x", CgroupPermissions: "rx"}}}, "invalid device mode: rx"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if err := tc.cfg.checkModes(); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		n    Networking
		want string
	}{
		{Networking{ExtraHosts: []string{"nocolon"}}, `bad format for add-host: "nocolon"`},
		{Networking{ExtraHosts: []string{"h:notanip"}}, `invalid IP address in add-host: "notanip"`},
		{Networking{DNS: []string{"x"}}, "IP address is not correctly formatted: x"},
		{Networking{DNSSearch: []string{"a b"}}, "not a valid DNS search domain or option"},
		{Networking{DNSOptions: []string{strings.Repeat("x", maxDNSField+1)}}, "maxDNSField"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if err := tc.n.checkNames(); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: %v, want %q", tc.n, err, tc.want)
			}
		})
	}
	ok := Config{PidMode: "host", UTSMode: "host", IpcMode: "none", CgroupnsMode: "private", DeviceCgroupRules: []string{"a *:* rwm"}}
	ok.ExtraHosts = []string{"gw:host-gateway", "v6:::1"}
	if err := ok.checkModes(); err != nil {
		t.Errorf("valid modes: %v", err)
	}
	if err := ok.Networking.checkNames(); err != nil {
		t.Errorf("valid names: %v", err)
	}
}
