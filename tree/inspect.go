package tree

import (
	"context"
	"strings"
	"time"

	"github.com/enginefs/enginefs/engine"
)

// inspectDoc is containers/<id>/inspect: the fields of docker inspect that the
// engine has so far, under docker's names.
type inspectDoc struct {
	ID      string       `json:"Id"`
	Created time.Time    `json:"Created"`
	Path    string       `json:"Path"`
	Args    []string     `json:"Args"`
	State   inspectState `json:"State"`
	Image   string       `json:"Image"`
	Name    string       `json:"Name"`
	LogPath string       `json:"LogPath"`
	Config  inspectConf  `json:"Config"`
	Host    struct {
		AutoRemove bool `json:"AutoRemove"`
	} `json:"HostConfig"`
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
}

type inspectConf struct {
	Hostname   string   `json:"Hostname"`
	User       string   `json:"User"`
	Env        []string `json:"Env"`
	Cmd        []string `json:"Cmd"`
	Image      string   `json:"Image"`
	WorkingDir string   `json:"WorkingDir"`
	Entrypoint []string `json:"Entrypoint"`
}

func inspect(r engine.Record, logPath string) inspectDoc {
	d := inspectDoc{
		ID: r.ID, Created: r.Created, Path: r.Path, Args: r.Args,
		Image: r.ImageID, Name: "/" + r.Name, LogPath: logPath,
		State: inspectState{
			Status:     string(r.State.Status),
			Running:    r.State.Status == engine.StatusRunning,
			OOMKilled:  r.State.OOMKilled,
			Pid:        r.State.Pid,
			ExitCode:   r.State.ExitCode,
			Error:      r.State.Error,
			StartedAt:  r.State.StartedAt,
			FinishedAt: r.State.FinishedAt,
		},
		Config: inspectConf{
			Hostname:   firstNonEmpty(r.Config.Hostname, shortID(r.ID)),
			User:       r.Config.User,
			Env:        r.Config.Env,
			Cmd:        r.Config.Cmd,
			Image:      r.Config.Image,
			WorkingDir: r.Config.WorkingDir,
			Entrypoint: r.Config.Entrypoint,
		},
	}
	if d.Args == nil {
		d.Args = []string{}
	}
	d.Host.AutoRemove = r.Config.AutoRemove
	return d
}

// listEntry is one element of containers/list, what docker ps shows.
type listEntry struct {
	ID       string   `json:"Id"`
	Names    []string `json:"Names"`
	Image    string   `json:"Image"`
	ImageID  string   `json:"ImageID"`
	Command  string   `json:"Command"`
	Created  int64    `json:"Created"`
	State    string   `json:"State"`
	Status   string   `json:"Status"`
	ExitCode int      `json:"ExitCode"`
}

func (t *tree) containerList(ctx context.Context) ([]byte, error) {
	now := time.Now()
	out := []listEntry{}
	for _, c := range t.e.List() {
		r := c.Record()
		if r.State.Status == engine.StatusNew {
			continue
		}
		out = append(out, listEntry{
			ID:       r.ID,
			Names:    []string{"/" + r.Name},
			Image:    r.Config.Image,
			ImageID:  r.ImageID,
			Command:  command(r),
			Created:  r.Created.Unix(),
			State:    string(r.State.Status),
			Status:   humanStatus(r.State, now),
			ExitCode: r.State.ExitCode,
		})
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
