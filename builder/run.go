package builder

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// runError is a RUN step whose command failed; its code is the exit code.
type runError struct {
	cmd  string
	code int
}

func (e *runError) Error() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", e.cmd, e.code)
}

// Is makes a runError an errdefs.ErrInvalid: the Dockerfile's command
// failed.
func (e *runError) Is(target error) bool { return target == errdefs.ErrInvalid }

// runStep is RUN: the command runs in a container of the stage's image,
// on the build's network and with its limits, and its changes become the
// next image. The history shows the command with the build args it saw
// ("|2 A=1 B=2 /bin/sh -c ..."), as docker's does.
func (st *stage) runStep(ctx context.Context, c *instructions.RunCommand) error {
	cmd := st.runCmdLine(c.ShellDependantCmdLine)
	if len(cmd) == 0 {
		return errdefs.Invalid("RUN: no command")
	}
	args := st.buildArgs()
	save := cmd
	if len(args) > 0 {
		var shown []string
		for _, kv := range args {
			k, _, _ := strings.Cut(kv, "=")
			if _, declared := st.args[k]; declared || !proxyArgs[k] {
				shown = append(shown, kv)
			}
		}
		save = append(append([]string{"|" + strconv.Itoa(len(shown))}, shown...), cmd...)
	}
	s := step{probe: copyConfig(st.run)}
	s.probe.Cmd = save
	s.probe.Entrypoint = nil
	s.createdBy = strings.Join(save, " ")
	if hit, err := st.cached(ctx, s); hit || err != nil {
		return err
	}
	env := append([]string(nil), st.run.Env...)
	for _, kv := range args {
		k, _, _ := strings.Cut(kv, "=")
		if !hasKey(env, k) {
			env = append(env, kv)
		}
	}
	o := st.bd.opts
	network := o.NetworkMode
	if network == "default" {
		network = ""
	}
	id, code, err := st.bd.b.RunBuild(ctx, engine.BuildRun{
		Image: st.imageID, Cmd: cmd, Env: env, User: st.run.User, WorkingDir: st.run.WorkingDir,
		NetworkMode: network, Resources: o.Resources, Ulimits: o.Ulimits, ShmSize: o.ShmSize,
		Stdout: streamWriter{o: st.bd.out}, Stderr: streamWriter{o: st.bd.out, stderr: true},
		Started: func(id string) { st.bd.out.printf(" ---> Running in %s\n", shortID(id)) },
	})
	if id != "" {
		defer st.removeContainer(id)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &runError{cmd: strings.Join(cmd, " "), code: code}
	}
	return st.commit(ctx, s, func(spec imagestore.ImageSpec) (*imagestore.Image, error) {
		return st.bd.b.CommitContainer(ctx, id, false, spec)
	})
}

// removeContainer removes a RUN step's container, with its anonymous
// volumes (an image's VOLUME gives it some), and says so as docker does.
func (st *stage) removeContainer(id string) {
	ctx := context.WithoutCancel(st.bd.bl.root)
	if err := st.bd.b.RemoveWithVolumes(ctx, id, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		st.bd.out.printf("Removing intermediate container %s: %v\n", shortID(id), err)
		return
	}
	st.bd.out.printf(" ---> Removed intermediate container %s\n", shortID(id))
}

// runCmdLine is RUN's command: a shell form with the stage's shell, an
// exec form as written. A heredoc (BuildKit's syntax, which docker's
// legacy builder ignores) is the script itself when it is the whole
// command (`RUN <<EOF`), else the shell gets the command with its
// heredocs.
func (st *stage) runCmdLine(c instructions.ShellDependantCmdLine) []string {
	if len(c.Files) > 0 && c.PrependShell && len(c.CmdLine) == 1 {
		line := c.CmdLine[0]
		if h := parser.MustParseHeredoc(line); h != nil {
			line = c.Files[0].Data
		} else {
			for _, f := range c.Files {
				line += "\n" + f.Data + f.Name
			}
		}
		return append(st.shell(), line)
	}
	return st.cmdLine(c)
}
