package tree

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/docker/go-units"

	"github.com/enginefs/enginefs/builder"
	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// containers is /containers: clone, ctl, err, list and a directory per
// container, found by id, name or unique id prefix.
func (t *tree) containers() fs.Dir {
	slot := t.slot("containers")
	static := fs.StaticDir{
		{Name: "clone", Node: cloneFile{t}},
		{Name: "ctl", Node: &fs.CtlFile{Exec: t.containersCtl, Errors: slot}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "list", Node: fs.ReadFile(t.containerList)},
	}
	return &fs.DirFunc{
		List: func(ctx context.Context) ([]fs.DirEntry, error) {
			ents, _ := static.ReadDir(ctx)
			for _, c := range t.e.List() {
				ents = append(ents, fs.DirEntry{Name: c.ID(), Mode: os.ModeDir})
			}
			return ents, nil
		},
		Get: func(ctx context.Context, name string) (fs.Node, error) {
			if n, err := static.Lookup(ctx, name); err == nil {
				return n, nil
			}
			c, err := t.e.Get(name)
			if err != nil {
				return nil, err
			}
			return t.container(c.ID()), nil
		},
	}
}

func (t *tree) containersCtl(ctx context.Context, line string) (string, error) {
	v, err := verbs.Containers.Parse(line)
	if err != nil {
		return "", err
	}
	if p, ok := v.(verbs.ContainerPrune); ok {
		return t.pruneContainers(ctx, p)
	}
	name, cfg, err := configFromCreate(v.(verbs.Create))
	if err != nil {
		return "", err
	}
	c, err := t.e.Create(ctx, name, cfg)
	if err != nil {
		return "", err
	}
	return c.ID(), nil
}

// cloneFile is containers/clone: each open reserves a new container id; a read
// returns it and writes act as that container's ctl. Closing the file before
// a create releases the id (Plan 9's /net clone).
type cloneFile struct{ t *tree }

func (cloneFile) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o644}, nil }

func (f cloneFile) Open(ctx context.Context, flag int) (fs.Handle, error) {
	c := f.t.e.Reserve()
	h, err := f.t.ctlFile(c.ID()).Open(ctx, flag)
	if err != nil {
		f.t.e.Release(c)
		return nil, err
	}
	return &cloneHandle{ctl: h, id: []byte(c.ID() + "\n"), release: func() { f.t.e.Release(c) }}, nil
}

// cloneHandle is an open clone file (of containers or of a container's
// execs): it reads the new id until a command was written, then that
// command's reply.
type cloneHandle struct {
	ctl     fs.Handle
	id      []byte
	wrote   atomic.Bool
	release func()
}

func (h *cloneHandle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if !h.wrote.Load() {
		if off >= int64(len(h.id)) {
			return 0, io.EOF
		}
		return copy(p, h.id[off:]), nil
	}
	return h.ctl.ReadAt(ctx, p, off)
}

func (h *cloneHandle) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	h.wrote.Store(true)
	return h.ctl.WriteAt(ctx, p, off)
}

func (h *cloneHandle) Close() error {
	if h.release != nil {
		h.release()
	}
	return h.ctl.Close()
}

// container is the directory of one container.
func (t *tree) container(id string) fs.Dir {
	dir := "containers/" + id
	slot := t.slot(dir)
	get := func() (*engine.Container, error) { return t.e.Get(id) }
	record := func() (engine.Record, error) {
		c, err := get()
		if err != nil {
			return engine.Record{}, err
		}
		return c.Record(), nil
	}
	return fs.StaticDir{
		{Name: "ctl", Node: t.ctlFile(id)},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "config", Node: &fs.DocFile{
			Read: func(context.Context) ([]byte, error) {
				r, err := record()
				if err != nil {
					return nil, err
				}
				return jsonDoc(r.Config)
			},
			Write: func(ctx context.Context, doc []byte) error {
				var cfg engine.Config
				if err := decodeStrict(doc, &cfg); err != nil {
					return err
				}
				return t.e.SetConfig(ctx, id, cfg)
			},
			Errors: slot,
		}},
		{Name: "status", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			r, err := record()
			if err != nil {
				return nil, err
			}
			return []byte(statusLine(r.State) + "\n"), nil
		})},
		{Name: "health", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			r, err := record()
			if err != nil {
				return nil, err
			}
			return t.healthDoc(ctx, r)
		})},
		{Name: "inspect", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			r, err := record()
			if err != nil {
				return nil, err
			}
			r = newImageDefaults(t.e).apply(ctx, r)
			return jsonDoc(inspect(r, t.e.DriverLogPath(r), t.n.Mode(r.Config.NetworkMode), networkSettings{key: t.n.SandboxKey(r.ID)}))
		})},
		{Name: "size", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) {
			r, err := record()
			if err != nil {
				return nil, err
			}
			return t.sizeDoc(ctx, r)
		})},
		{Name: "log", Node: fs.HostFile(func() (string, error) {
			if _, err := get(); err != nil {
				return "", err
			}
			return t.e.LogPath(id), nil
		})},
		{Name: "wait", Node: fs.BlockingFile(func(context.Context) (func(context.Context) ([]byte, error), error) {
			c, err := get()
			if err != nil {
				return nil, err
			}
			return exitCode(c.Wait()), nil
		})},
		{Name: "wait.next", Node: fs.BlockingFile(func(context.Context) (func(context.Context) ([]byte, error), error) {
			c, err := get()
			if err != nil {
				return nil, err
			}
			return exitCode(c.WaitNext()), nil
		})},
		{Name: "logs", Node: logsFile{t: t, id: id}},
		{Name: "stdin", Node: t.stdinFile(id, "")},
		{Name: "stdout", Node: t.outputFile(id, "", outStdout)},
		{Name: "stderr", Node: t.outputFile(id, "", outStderr)},
		{Name: "stats", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) { return t.stats(ctx, id) })},
		{Name: "top", Node: fs.ReadFile(func(ctx context.Context) ([]byte, error) { return t.top(ctx, id) })},
		{Name: "exec", Node: t.execs(id)},
		{Name: "root", Node: rootDir{t: t, id: id}},
		{Name: "changes", Node: t.changesFile(id)},
		{Name: "export", Node: t.exportFile(id)},
	}
}

// exitCode turns a wait into the content of a wait file: the code and a newline.
func exitCode(wait func(context.Context) (engine.ExitStatus, error)) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		st, err := wait(ctx)
		if err != nil {
			return nil, err
		}
		return []byte(strconv.Itoa(st.Code) + "\n"), nil
	}
}

// ctlFile is the ctl of one container.
func (t *tree) ctlFile(id string) *fs.CtlFile {
	dir := "containers/" + id
	return &fs.CtlFile{Errors: t.slot(dir), Exec: func(ctx context.Context, line string) (string, error) {
		v, err := verbs.Container.Parse(line)
		if err != nil {
			return "", err
		}
		switch v := v.(type) {
		case verbs.Create:
			name, cfg, err := configFromCreate(v)
			if err != nil {
				return "", err
			}
			c, err := t.e.Get(id)
			if err != nil {
				return "", err
			}
			return id, t.e.Configure(ctx, c, name, cfg)
		case verbs.ContainerStart:
			return "", t.e.Start(ctx, id)
		case verbs.ContainerStop:
			d, err := timeout(v, v.Seconds)
			if err != nil {
				return "", err
			}
			return "", t.e.StopWith(ctx, id, d, v.Signal)
		case verbs.ContainerRestart:
			d, err := timeout(v, v.Seconds)
			if err != nil {
				return "", err
			}
			return "", t.e.Restart(ctx, id, d)
		case verbs.ContainerKill:
			return "", t.e.Kill(ctx, id, v.Signal)
		case verbs.ContainerPause:
			return "", t.e.Pause(ctx, id)
		case verbs.ContainerResume:
			return "", t.e.Resume(ctx, id)
		case verbs.ContainerResize:
			rows, cols, err := v.Size()
			if err != nil {
				return "", err
			}
			return "", t.e.Resize(ctx, id, "", rows, cols)
		case verbs.ContainerRm:
			remove := t.e.Remove
			if v.Volumes {
				remove = t.e.RemoveWithVolumes // and its anonymous volumes (docker rm -v)
			}
			if err := remove(ctx, id, v.Force); err != nil {
				return "", err
			}
			t.forget(dir)
			return "", nil
		case verbs.ContainerRename:
			return "", t.e.Rename(ctx, id, v.Name)
		case verbs.ContainerUpdate:
			u, err := updateFromVerb(v)
			if err != nil {
				return "", err
			}
			return "", t.e.Update(ctx, id, u)
		case verbs.ContainerCommit:
			img, err := t.b.Commit(ctx, id, builder.CommitOptions{Ref: v.Ref, Author: v.Author, Comment: v.Comment,
				Changes: v.Change, NoPause: v.NoPause})
			if err != nil {
				return "", err
			}
			return img + "\n", nil
		}
		return "", errdefs.Invalid("unhandled command %q", v.Verb())
	}}
}

// timeout reads the SECONDS of a stop or restart: none is -1 (the
// container's own stop timeout), as is -1 (wait for ever).
func timeout(v verbs.Verb, secs string) (time.Duration, error) {
	if secs == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(secs)
	if err != nil {
		return 0, &ctl.Error{Verb: v.Verb(), Msg: "not a number", Word: secs}
	}
	switch {
	case n < -1:
		return -1, errdefs.Invalid("%s: negative timeout %d", v.Verb(), n)
	case n < 0:
		return -1, nil
	}
	return time.Duration(n) * time.Second, nil
}

// decodeStrict decodes one JSON document, refusing unknown fields; a document
// cut short is fs.ErrIncomplete so the writer can send the rest.
func decodeStrict(doc []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fs.ErrIncomplete
		}
		return errdefs.Invalid("bad config: %w", err)
	}
	if dec.More() {
		return errdefs.Invalid("bad config: more than one JSON document")
	}
	return nil
}

// statusLine is the one-line state people read from `status`:
// `running pid=4242 started=...`, `exited code=0 started=... finished=...`.
func statusLine(s engine.State) string {
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	switch s.Status {
	case engine.StatusRunning, engine.StatusPaused:
		line := fmt.Sprintf("%s pid=%d started=%s", s.Status, s.Pid, ts(s.StartedAt))
		if s.Health != nil {
			line += " health=" + s.Health.Status
		}
		return line
	case engine.StatusExited, engine.StatusRestarting:
		line := fmt.Sprintf("%s code=%d started=%s finished=%s", s.Status, s.ExitCode, ts(s.StartedAt), ts(s.FinishedAt))
		if s.OOMKilled {
			line += " oomkilled"
		}
		if s.Error != "" {
			line += " error=" + ctl.Quote(s.Error)
		}
		return line
	}
	return string(s.Status)
}

// humanStatus is the STATUS column of docker ps.
func humanStatus(s engine.State, now time.Time) string {
	switch s.Status {
	case engine.StatusRunning:
		if h := healthWord(s.Health); h != "" {
			return "Up " + units.HumanDuration(now.Sub(s.StartedAt)) + " (" + h + ")"
		}
		return "Up " + units.HumanDuration(now.Sub(s.StartedAt))
	case engine.StatusPaused:
		return "Up " + units.HumanDuration(now.Sub(s.StartedAt)) + " (Paused)"
	case engine.StatusRestarting:
		return "Restarting (" + strconv.Itoa(s.ExitCode) + ") " + units.HumanDuration(now.Sub(s.FinishedAt)) + " ago"
	case engine.StatusExited:
		return "Exited (" + strconv.Itoa(s.ExitCode) + ") " + units.HumanDuration(now.Sub(s.FinishedAt)) + " ago"
	case engine.StatusCreated:
		return "Created"
	}
	return string(s.Status)
}
