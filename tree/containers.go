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

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// createKeys are the options of create, on containers/ctl and on the ctl of a
// container reserved by clone.
var createKeys = []string{"image", "name", "env", "workdir", "hostname", "user", "entrypoint", "rm"}

const createUsage = "create image=REF [name=NAME] [env=K=V]... [workdir=DIR] [hostname=H] [user=U] [entrypoint=PROG] [rm=true] [-- CMD ARG...]"

var containersGrammar = ctl.Grammar{
	{Name: "create", Keys: createKeys, Required: []string{"image"}, Argv: true, Usage: createUsage},
}

var containerGrammar = ctl.Grammar{
	{Name: "create", Keys: createKeys, Required: []string{"image"}, Argv: true, Usage: createUsage},
	{Name: "start", Usage: "start"},
	{Name: "stop", MaxArgs: 1, Usage: "stop [SECONDS]"},
	{Name: "kill", MaxArgs: 1, Usage: "kill [SIGNAL]"},
	{Name: "rm", MaxArgs: 1, Usage: "rm [force]"},
	{Name: "rename", MinArgs: 1, MaxArgs: 1, Usage: "rename NAME"},
}

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
	cmd, err := containersGrammar.Parse(line)
	if err != nil {
		return "", err
	}
	name, cfg, err := configFromCreate(cmd)
	if err != nil {
		return "", err
	}
	c, err := t.e.Create(ctx, name, cfg)
	if err != nil {
		return "", err
	}
	return c.ID(), nil
}

// configFromCreate reads the options of a create line into a config.
func configFromCreate(cmd ctl.Command) (string, engine.Config, error) {
	cfg := engine.Config{Env: cmd.All("env"), Cmd: cmd.Argv}
	cfg.Image, _ = cmd.Get("image")
	cfg.WorkingDir, _ = cmd.Get("workdir")
	cfg.Hostname, _ = cmd.Get("hostname")
	cfg.User, _ = cmd.Get("user")
	if ep, ok := cmd.Get("entrypoint"); ok {
		cfg.Entrypoint = []string{}
		if ep != "" {
			cfg.Entrypoint = []string{ep}
		}
	}
	rm, err := cmd.Bool("rm", false)
	if err != nil {
		return "", cfg, err
	}
	cfg.AutoRemove = rm
	name, _ := cmd.Get("name")
	return name, cfg, nil
}

// cloneFile is containers/clone: each open reserves a new container id; a read
// returns it and writes act as that container's ctl. Closing the file before
// a create releases the id (Plan 9's /net clone).
type cloneFile struct{ t *tree }

func (cloneFile) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o644}, nil }

func (f cloneFile) Open(ctx context.Context, flag int) (fs.Handle, error) {
	c := f.t.e.Reserve()
	ctlNode := f.t.ctlFile(c.ID())
	h, err := ctlNode.Open(ctx, flag)
	if err != nil {
		f.t.e.Release(c)
		return nil, err
	}
	return &cloneHandle{t: f.t, c: c, ctl: h, id: []byte(c.ID() + "\n")}, nil
}

type cloneHandle struct {
	t     *tree
	c     *engine.Container
	ctl   fs.Handle
	id    []byte
	wrote atomic.Bool
}

// ReadAt returns the id until a command was written, then that command's reply.
func (h *cloneHandle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if !h.wrote.Load() {
		if off >= int64(len(h.id)) {
			return 0, io.EOF
		}
		n := copy(p, h.id[off:])
		return n, nil
	}
	return h.ctl.ReadAt(ctx, p, off)
}

func (h *cloneHandle) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	h.wrote.Store(true)
	return h.ctl.WriteAt(ctx, p, off)
}

func (h *cloneHandle) Close() error {
	h.t.e.Release(h.c)
	return h.ctl.Close()
}

// container is the directory of one container.
func (t *tree) container(id string) fs.Dir {
	dir := "containers/" + id
	slot := t.slot(dir)
	get := func() (*engine.Container, error) { return t.e.Get(id) }
	return fs.StaticDir{
		{Name: "ctl", Node: t.ctlFile(id)},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "config", Node: &fs.DocFile{
			Read: func(context.Context) ([]byte, error) {
				c, err := get()
				if err != nil {
					return nil, err
				}
				return jsonDoc(c.Record().Config)
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
			c, err := get()
			if err != nil {
				return nil, err
			}
			return []byte(statusLine(c.Record().State) + "\n"), nil
		})},
		{Name: "inspect", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			c, err := get()
			if err != nil {
				return nil, err
			}
			return jsonDoc(inspect(c.Record(), t.e.LogPath(id)))
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
			wait := c.Wait()
			return func(ctx context.Context) ([]byte, error) {
				st, err := wait(ctx)
				if err != nil {
					return nil, err
				}
				return []byte(strconv.Itoa(st.Code) + "\n"), nil
			}, nil
		})},
	}
}

// ctlFile is the ctl of one container.
func (t *tree) ctlFile(id string) *fs.CtlFile {
	dir := "containers/" + id
	return &fs.CtlFile{Errors: t.slot(dir), Exec: func(ctx context.Context, line string) (string, error) {
		cmd, err := containerGrammar.Parse(line)
		if err != nil {
			return "", err
		}
		switch cmd.Verb {
		case "create":
			name, cfg, err := configFromCreate(cmd)
			if err != nil {
				return "", err
			}
			c, err := t.e.Get(id)
			if err != nil {
				return "", err
			}
			return id, t.e.Configure(ctx, c, name, cfg)
		case "start":
			return "", t.e.Start(ctx, id)
		case "stop":
			secs, err := cmd.Int(0, 10)
			if err != nil {
				return "", err
			}
			if secs < 0 {
				return "", errdefs.Invalid("stop: negative timeout %d", secs)
			}
			return "", t.e.Stop(ctx, id, time.Duration(secs)*time.Second)
		case "kill":
			sig := ""
			if len(cmd.Args) > 0 {
				sig = cmd.Args[0]
			}
			return "", t.e.Kill(ctx, id, sig)
		case "rm":
			force := false
			if len(cmd.Args) > 0 {
				if cmd.Args[0] != "force" {
					return "", &ctl.Error{Verb: "rm", Msg: "unexpected argument", Word: cmd.Args[0], Usage: "rm [force]"}
				}
				force = true
			}
			if err := t.e.Remove(ctx, id, force); err != nil {
				return "", err
			}
			t.forget(dir)
			return "", nil
		case "rename":
			return "", t.e.Rename(ctx, id, cmd.Args[0])
		}
		return "", errdefs.Invalid("unhandled command %q", cmd.Verb)
	}}
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
	case engine.StatusRunning:
		return fmt.Sprintf("running pid=%d started=%s", s.Pid, ts(s.StartedAt))
	case engine.StatusExited:
		line := fmt.Sprintf("exited code=%d started=%s finished=%s", s.ExitCode, ts(s.StartedAt), ts(s.FinishedAt))
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
		return "Up " + units.HumanDuration(now.Sub(s.StartedAt))
	case engine.StatusExited:
		return "Exited (" + strconv.Itoa(s.ExitCode) + ") " + units.HumanDuration(now.Sub(s.FinishedAt)) + " ago"
	case engine.StatusCreated:
		return "Created"
	}
	return string(s.Status)
}
