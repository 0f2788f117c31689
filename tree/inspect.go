package tree

import (
	"context"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/engine"
)

// inspectDoc is containers/<id>/inspect: the fields of docker inspect that the
// engine has so far, under docker's names.
type inspectDoc struct {
	ID           string       `json:"Id"`
	Created      time.Time    `json:"Created"`
	Path         string       `json:"Path"`
	Args         []string     `json:"Args"`
	State        inspectState `json:"State"`
	Image        string       `json:"Image"`
	Name         string       `json:"Name"`
	LogPath      string       `json:"LogPath"`
	RestartCount int          `json:"RestartCount"`
	Driver       string       `json:"Driver"`
	Platform     string       `json:"Platform"`
	Config       inspectConf  `json:"Config"`
	Host         inspectHost  `json:"HostConfig"`
	// NetworkSettings and Mounts are docker's (network.go, volumes.go).
	NetworkSettings *container.NetworkSettings `json:"NetworkSettings"`
	Mounts          []container.MountPoint     `json:"Mounts"`
}

type inspectHost struct {
	AutoRemove     bool                 `json:"AutoRemove"`
	RestartPolicy  engine.RestartPolicy `json:"RestartPolicy"`
	Runtime        string               `json:"Runtime"`
	CapAdd         []string             `json:"CapAdd"`
	CapDrop        []string             `json:"CapDrop"`
	GroupAdd       []string             `json:"GroupAdd"`
	Privileged     bool                 `json:"Privileged"`
	ReadonlyRootfs bool                 `json:"ReadonlyRootfs"`
	SecurityOpt    []string             `json:"SecurityOpt"`
	MaskedPaths    []string             `json:"MaskedPaths"`
	ReadonlyPaths  []string             `json:"ReadonlyPaths"`
	Sysctls        map[string]string    `json:"Sysctls,omitempty"`
	UsernsMode     string               `json:"UsernsMode"`
	Ulimits        []engine.Ulimit      `json:"Ulimits"`
	ShmSize        int64                `json:"ShmSize"`
	engine.Resources
	NetworkMode     string            `json:"NetworkMode"`
	PortBindings    nat.PortMap       `json:"PortBindings"`
	PublishAllPorts bool              `json:"PublishAllPorts"`
	Binds           []string          `json:"Binds"`
	Mounts          []mount.Mount     `json:"Mounts,omitempty"`
	Tmpfs           map[string]string `json:"Tmpfs,omitempty"`
	VolumesFrom     []string          `json:"VolumesFrom"`
	VolumeDriver    string            `json:"VolumeDriver"`
	inspectOptions
	LogConfig *engine.LogConfig `json:"LogConfig,omitempty"`
}

type inspectState struct {
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	// Health is docker's State.Health, for a container with a health check.
	Health *engine.Health `json:"Health,omitempty"`
}

type inspectConf struct {
	Hostname     string               `json:"Hostname"`
	User         string               `json:"User"`
	Tty          bool                 `json:"Tty"`
	OpenStdin    bool                 `json:"OpenStdin"`
	StdinOnce    bool                 `json:"StdinOnce"`
	Env          []string             `json:"Env"`
	Cmd          []string             `json:"Cmd"`
	Image        string               `json:"Image"`
	WorkingDir   string               `json:"WorkingDir"`
	Entrypoint   []string             `json:"Entrypoint"`
	StopSignal   string               `json:"StopSignal,omitempty"`
	StopTimeout  *int                 `json:"StopTimeout,omitempty"`
	ExposedPorts nat.PortSet          `json:"ExposedPorts,omitempty"`
	Labels       map[string]string    `json:"Labels"`
	Healthcheck  *engine.HealthConfig `json:"Healthcheck,omitempty"`
}

func inspect(r engine.Record, logPath string, networkMode string, ns networkSettings) inspectDoc {
	d := inspectDoc{
		ID: r.ID, Created: r.Created, Path: r.Path, Args: r.Args,
		Image: r.ImageID, Name: "/" + r.Name, LogPath: logPath,
		RestartCount: r.RestartCount,
		Driver:       "overlay",
		Platform:     "linux",
		State: inspectState{
			Status:     string(r.State.Status),
			Running:    r.State.Status == engine.StatusRunning || r.State.Status == engine.StatusPaused,
			Paused:     r.State.Status == engine.StatusPaused,
			Restarting: r.State.Status == engine.StatusRestarting,
			OOMKilled:  r.State.OOMKilled,
			Pid:        r.State.Pid,
			ExitCode:   r.State.ExitCode,
			Error:      r.State.Error,
			StartedAt:  r.State.StartedAt,
			FinishedAt: r.State.FinishedAt,
			Health:     r.State.Health,
		},
		Config: inspectConf{
			Hostname:     firstNonEmpty(r.Config.Hostname, shortID(r.ID)),
			User:         r.Config.User,
			Tty:          r.Config.Tty,
			OpenStdin:    r.Config.OpenStdin,
			StdinOnce:    r.Config.StdinOnce,
			Env:          r.Config.Env,
			Cmd:          r.Config.Cmd,
			Image:        r.Config.Image,
			WorkingDir:   r.Config.WorkingDir,
			Entrypoint:   r.Config.Entrypoint,
			StopSignal:   r.Config.StopSignal,
			StopTimeout:  r.Config.StopTimeout,
			ExposedPorts: r.Config.ExposedPorts,
			Labels:       labels(r.Config.Labels),
			Healthcheck:  r.Config.Healthcheck,
		},
		Host: inspectHost{
			AutoRemove:      r.Config.AutoRemove,
			RestartPolicy:   r.Config.RestartPolicy,
			Runtime:         firstNonEmpty(r.Runtime, r.Config.Runtime),
			CapAdd:          r.Config.CapAdd,
			CapDrop:         r.Config.CapDrop,
			GroupAdd:        r.Config.GroupAdd,
			Privileged:      r.Config.Privileged,
			ReadonlyRootfs:  r.Config.ReadonlyRootfs,
			SecurityOpt:     r.Config.SecurityOpt,
			Sysctls:         r.Config.Sysctls,
			UsernsMode:      r.Config.UsernsMode,
			Ulimits:         r.Config.Ulimits,
			ShmSize:         r.Config.ShmSize,
			Resources:       r.Config.Resources,
			NetworkMode:     networkMode,
			PortBindings:    r.Config.PortBindings,
			PublishAllPorts: r.Config.PublishAllPorts,
			Binds:           r.Config.Binds,
			Mounts:          r.Config.Mounts,
			Tmpfs:           r.Config.Tmpfs,
			VolumesFrom:     r.Config.VolumesFrom,
			VolumeDriver:    r.Config.VolumeDriver,
			inspectOptions:  optionsOf(r.Config).withLinks(r.Name, r.Config.Links),
			LogConfig:       r.Config.LogConfig,
		},
		NetworkSettings: ns.settings(r),
		Mounts:          mountPoints(r),
	}
	// The paths the container gets, as docker shows them: its defaults
	// unless replaced, none when privileged.
	d.Host.MaskedPaths, d.Host.ReadonlyPaths = r.Config.SystemPaths()
	if d.Args == nil {
		d.Args = []string{}
	}
	return d
}

// listEntry is one element of containers/list, what docker ps shows.
type listEntry struct {
	Ports           []container.Port                  `json:"Ports"`
	Mounts          []container.MountPoint            `json:"Mounts"`
	NetworkSettings *container.NetworkSettingsSummary `json:"NetworkSettings"`
	HostConfig      struct {
		NetworkMode string `json:"NetworkMode"`
	} `json:"HostConfig"`
	ID       string            `json:"Id"`
	Names    []string          `json:"Names"`
	Image    string            `json:"Image"`
	ImageID  string            `json:"ImageID"`
	Command  string            `json:"Command"`
	Created  int64             `json:"Created"`
	State    string            `json:"State"`
	Status   string            `json:"Status"`
	ExitCode int               `json:"ExitCode"`
	Labels   map[string]string `json:"Labels"`
	// Health is the health status (engine.HealthStatus: "none" without
	// a check), which docker ps's health filter needs.
	Health string `json:"Health"`
}

func (t *tree) containerList(ctx context.Context) ([]byte, error) {
	now := time.Now()
	out := []listEntry{}
	defaults := newImageDefaults(t.e)
	for _, c := range t.e.List() {
		r := c.Record()
		if r.State.Status == engine.StatusNew {
			continue
		}
		r = defaults.apply(ctx, r)
		le := listEntry{
			ID:       r.ID,
			Names:    []string{"/" + r.Name},
			Image:    r.Config.Image,
			ImageID:  r.ImageID,
			Command:  command(r),
			Created:  r.Created.Unix(),
			State:    string(r.State.Status),
			Status:   humanStatus(r.State, now),
			ExitCode: r.State.ExitCode,
			Health:   engine.HealthStatus(r),
			Ports:    ports(r.Ports),
			Labels:   labels(r.Config.Labels),
			Mounts:   mountPoints(r),
			NetworkSettings: &container.NetworkSettingsSummary{
				Networks: networkSettings{}.settings(r).Networks,
			},
		}
		le.HostConfig.NetworkMode = t.n.Mode(r.Config.NetworkMode)
		out = append(out, le)
	}
	return jsonDoc(out)
}

// command is the COMMAND column: what the container runs, or what it was
// configured to run before its first start.
func command(r engine.Record) string {
	if r.Path != "" {
		return strings.Join(append([]string{r.Path}, r.Args...), " ")
	}
	return strings.Join(append(append([]string{}, r.Config.Entrypoint...), r.Config.Cmd...), " ")
}

// labels is a container's labels for JSON: {} rather than null when none.
func labels(l map[string]string) map[string]string {
	if l == nil {
		return map[string]string{}
	}
	return l
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
