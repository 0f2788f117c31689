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
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

var containersGrammar = ctl.Grammar{
	{Name: "create", Keys: createKeys, Required: []string{"image"}, Argv: true, Usage: createUsage},
}

var containerGrammar = ctl.Grammar{
	{Name: "create", Keys: createKeys, Required: []string{"image"}, Argv: true, Usage: createUsage},
	{Name: "start", Usage: "start"},
	{Name: "stop", MaxArgs: 1, Keys: []string{"signal"}, Usage: "stop [SECONDS] [signal=SIG]"},
	{Name: "restart", MaxArgs: 1, Usage: "restart [SECONDS]"},
	{Name: "kill", MaxArgs: 1, Usage: "kill [SIGNAL]"},
	{Name: "pause", Usage: "pause"},
	{Name: "resume", Usage: "resume"},
	{Name: "resize", MinArgs: 2, MaxArgs: 2, Usage: "resize ROWS COLS"},
	{Name: "rm", MaxArgs: 2, Usage: "rm [force] [volumes]"},
	{Name: "rename", MinArgs: 1, MaxArgs: 1, Usage: "rename NAME"},
	{Name: "commit", MaxArgs: 1, Keys: []string{"author", "comment", "change", "pause"},
		Usage: "commit [REPO[:TAG]] [author=NAME] [comment=TEXT] [change=INSTRUCTION]... [pause=false]"},
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
		{Name: "inspect", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			r, err := record()
			if err != nil {
				return nil, err
			}
			return jsonDoc(inspect(r, t.e.LogPath(id), t.n.Mode(r.Config.NetworkMode), networkSettings{key: t.n.SandboxKey(r.ID)}))
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
		cmd, err := containerGrammar.Parse(line)
		if err != nil {
			return "", err
		}
		secs := func(def int) (time.Duration, error) {
			n, err := cmd.Int(0, def)
			if err == nil && n < -1 {
				err = errdefs.Invalid("%s: negative timeout %d", cmd.Verb, n)
			}
			if n < 0 {
				return -1, err
			}
			return time.Duration(n) * time.Second, err
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
		case "stop", "restart":
			d, err := secs(-1)
			if err != nil {
				return "", err
			}
			if cmd.Verb == "stop" {
				sig, _ := cmd.Get("signal")
				return "", t.e.StopWith(ctx, id, d, sig)
			}
			return "", t.e.Restart(ctx, id, d)
		case "kill":
			sig := ""
			if len(cmd.Args) > 0 {
				sig = cmd.Args[0]
			}
			return "", t.e.Kill(ctx, id, sig)
		case "pause":
			return "", t.e.Pause(ctx, id)
		case "resume":
			return "", t.e.Resume(ctx, id)
		case "resize":
			rows, cols, err := winsize(cmd)
			if err != nil {
				return "", err
			}
			return "", t.e.Resize(ctx, id, "", rows, cols)
		case "rm":
			force, volumes := false, false
			for _, a := range cmd.Args {
				switch {
				case a == "force" && !force:
					force = true
				case a == "volumes" && !volumes:
					volumes = true
				default:
					return "", &ctl.Error{Verb: "rm", Msg: "unexpected argument", Word: a, Usage: "rm [force] [volumes]"}
				}
			}
			remove := t.e.Remove
			if volumes {
				remove = t.e.RemoveWithVolumes // and its anonymous volumes (docker rm -v)
			}
			if err := remove(ctx, id, force); err != nil {
				return "", err
			}
			t.forget(dir)
			return "", nil
		case "rename":
			return "", t.e.Rename(ctx, id, cmd.Args[0])
		case "commit":
			pause, err := cmd.Bool("pause", true)
			if err != nil {
				return "", err
			}
			o := builder.CommitOptions{Author: get(cmd, "author"), Comment: get(cmd, "comment"),
				Changes: cmd.All("change"), NoPause: !pause}
			if len(cmd.Args) > 0 {
				o.Ref = cmd.Args[0]
			}
			img, err := t.b.Commit(ctx, id, o)
			if err != nil {
				return "", err
			}
			return img + "\n", nil
		}
		return "", errdefs.Invalid("unhandled command %q", cmd.Verb)
	}}
}

// winsize reads the ROWS COLS arguments of resize.
func winsize(cmd ctl.Command) (uint16, uint16, error) {
	var v [2]uint16
	for i := range v {
		n, err := strconv.ParseUint(cmd.Args[i], 10, 16)
		if err != nil || n == 0 {
			return 0, 0, &ctl.Error{Verb: cmd.Verb, Msg: "not a size", Word: cmd.Args[i], Usage: "resize ROWS COLS"}
		}
		v[i] = uint16(n)
	}
	return v[0], v[1], nil
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
		return fmt.Sprintf("%s pid=%d started=%s", s.Status, s.Pid, ts(s.StartedAt))
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
