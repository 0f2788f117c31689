package tree

import (
	"context"
	"fmt"
	"os"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// execs is containers/<id>/exec: clone, and a directory per exec.
func (t *tree) execs(id string) fs.Dir {
	static := fs.StaticDir{{Name: "clone", Node: execClone{t: t, id: id}}}
	return &fs.DirFunc{
		List: func(ctx context.Context) ([]fs.DirEntry, error) {
			ents, _ := static.ReadDir(ctx)
			xs, err := t.e.Execs(id)
			if err != nil {
				return nil, err
			}
			for _, x := range xs {
				ents = append(ents, fs.DirEntry{Name: x.ID, Mode: os.ModeDir})
			}
			return ents, nil
		},
		Get: func(ctx context.Context, name string) (fs.Node, error) {
			if n, err := static.Lookup(ctx, name); err == nil {
				return n, nil
			}
			if _, _, err := t.e.GetExec(id, name); err != nil {
				return nil, err
			}
			return t.exec(id, name), nil
		},
	}
}

// execClone is exec/clone: an open makes a new exec, a read returns its
// number, writes act as its ctl.
type execClone struct {
	t  *tree
	id string
}

func (execClone) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o644}, nil }

func (f execClone) Open(ctx context.Context, flag int) (fs.Handle, error) {
	x, err := f.t.e.NewExec(f.id)
	if err != nil {
		return nil, err
	}
	h, err := f.t.execCtl(f.id, x.ID).Open(ctx, flag)
	if err != nil {
		return nil, err
	}
	return &cloneHandle{ctl: h, id: []byte(x.ID + "\n")}, nil
}

// exec is the directory of one exec.
func (t *tree) exec(id, execID string) fs.Dir {
	slot := t.slot("containers/" + id + "/exec/" + execID)
	get := func() (*engine.Exec, error) {
		_, x, err := t.e.GetExec(id, execID)
		return x, err
	}
	return fs.StaticDir{
		{Name: "ctl", Node: t.execCtl(id, execID)},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "status", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			x, err := get()
			if err != nil {
				return nil, err
			}
			st := x.State()
			switch st.Status {
			case "running":
				return []byte(fmt.Sprintf("running pid=%d\n", st.Pid)), nil
			case "exited":
				return []byte(fmt.Sprintf("exited code=%d\n", st.ExitCode)), nil
			}
			return []byte(st.Status + "\n"), nil
		})},
		{Name: "config", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			x, err := get()
			if err != nil {
				return nil, err
			}
			if cfg := x.Config(); cfg != nil {
				return jsonDoc(cfg)
			}
			return []byte("null\n"), nil
		})},
		{Name: "wait", Node: fs.BlockingFile(func(context.Context) (func(context.Context) ([]byte, error), error) {
			x, err := get()
			if err != nil {
				return nil, err
			}
			return exitCode(x.Wait()), nil
		})},
		{Name: "stdin", Node: t.stdinFile(id, execID)},
		{Name: "stdout", Node: t.outputFile(id, execID, outStdout)},
		{Name: "stderr", Node: t.outputFile(id, execID, outStderr)},
	}
}

// execCtl is the ctl of one exec.
func (t *tree) execCtl(id, execID string) *fs.CtlFile {
	return &fs.CtlFile{Errors: t.slot("containers/" + id + "/exec/" + execID), Exec: func(ctx context.Context, line string) (string, error) {
		v, err := verbs.Exec.Parse(line)
		if err != nil {
			return "", err
		}
		switch v := v.(type) {
		case verbs.ExecCreate:
			cfg := engine.ExecConfig{Cmd: v.Cmd, Env: v.Env, Tty: v.Tty, OpenStdin: v.Stdin, User: v.User, WorkingDir: v.Workdir}
			return execID, t.e.ConfigureExec(id, execID, cfg)
		case verbs.ExecStart:
			return "", t.e.StartExec(ctx, id, execID)
		case verbs.ExecKill:
			return "", t.e.KillExec(ctx, id, execID, v.Signal)
		case verbs.ExecResize:
			rows, cols, err := v.Size()
			if err != nil {
				return "", err
			}
			return "", t.e.Resize(ctx, id, execID, rows, cols)
		}
		return "", errdefs.Invalid("unhandled command %q", v.Verb())
	}}
}
