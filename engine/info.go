package engine

import (
	"context"
	"os"
	goruntime "runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Info is the system-wide summary served as /info; field names follow
// docker's GET /info.
type Info struct {
	Containers        int    `json:"Containers"`
	ContainersRunning int    `json:"ContainersRunning"`
	ContainersPaused  int    `json:"ContainersPaused"`
	ContainersStopped int    `json:"ContainersStopped"`
	Images            int    `json:"Images"`
	Driver            string `json:"Driver"`
	CgroupVersion     string `json:"CgroupVersion"`
	KernelVersion     string `json:"KernelVersion"`
	OperatingSystem   string `json:"OperatingSystem"`
	OSType            string `json:"OSType"`
	Architecture      string `json:"Architecture"`
	NCPU              int    `json:"NCPU"`
	MemTotal          int64  `json:"MemTotal"`
	RootDir           string `json:"DockerRootDir"`
	Name              string `json:"Name"`
	// Runtimes are the runtimes a container may name, DefaultRuntime the
	// one it gets when it names none.
	Runtimes       map[string]RuntimeInfo `json:"Runtimes"`
	DefaultRuntime string                 `json:"DefaultRuntime"`
	// SecurityOptions name the confinement containers get by default, in
	// docker's form (runtime.SecurityOptions).
	SecurityOptions []string `json:"SecurityOptions"`
	// LoggingDriver is the driver of containers that name none
	// (--log-driver); LogDrivers those a container may name.
	LoggingDriver string   `json:"LoggingDriver"`
	LogDrivers    []string `json:"LogDrivers"`
}

// RuntimeInfo describes one runtime in Info (docker's shape).
type RuntimeInfo struct {
	Path string `json:"path"`
}

// Info gathers the summary.
func (e *Engine) Info(ctx context.Context) Info {
	in := Info{
		Driver:          "overlay",
		OSType:          goruntime.GOOS,
		Architecture:    goruntime.GOARCH,
		NCPU:            goruntime.NumCPU(),
		RootDir:         e.dir,
		Runtimes:        map[string]RuntimeInfo{},
		DefaultRuntime:  e.runtime,
		SecurityOptions: e.securityOptions(),
		LoggingDriver:   e.logConfig.Type,
		LogDrivers:      LogDrivers(),
	}
	if in.LoggingDriver == "" {
		in.LoggingDriver = DefaultLogDriver
	}
	for name := range e.runtimes {
		in.Runtimes[name] = RuntimeInfo{Path: name}
	}
	for _, c := range e.List() {
		switch c.Record().State.Status {
		case StatusNew:
			continue
		case StatusRunning:
			in.ContainersRunning++
		case StatusPaused:
			in.ContainersPaused++
		default:
			in.ContainersStopped++
		}
		in.Containers++
	}
	if imgs, err := e.images.List(ctx); err == nil {
		in.Images = len(imgs)
	}
	in.CgroupVersion = "1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		in.CgroupVersion = "2"
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		in.KernelVersion = unix.ByteSliceToString(uts.Release[:])
		in.Name = unix.ByteSliceToString(uts.Nodename[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		in.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				in.OperatingSystem = strings.Trim(v, `"`)
			}
		}
	}
	return in
}
