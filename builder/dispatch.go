package builder

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/docker/go-connections/nat"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"golang.org/x/sys/unix"

	"github.com/enginefs/enginefs/errdefs"
)

// dispatch runs one instruction of the stage.
func (st *stage) dispatch(ctx context.Context, c instructions.Command) error {
	if err := st.expand(c); err != nil {
		return err
	}
	switch c := c.(type) {
	case *instructions.RunCommand:
		return st.runStep(ctx, c)
	case *instructions.CopyCommand:
		return st.copyStep(ctx, c)
	case *instructions.AddCommand:
		return st.addStep(ctx, c)
	case *instructions.WorkdirCommand:
		return st.workdir(ctx, c)
	}
	comment, err := st.apply(c)
	if err != nil {
		return err
	}
	return st.metadata(ctx, comment)
}

// apply makes the change to the config of an instruction that changes
// only the config (its words expanded already) and returns its history
// comment ("ENV A=b"). WORKDIR only sets the directory here.
func (st *stage) apply(c instructions.Command) (string, error) {
	switch c := c.(type) {
	case *instructions.EnvCommand:
		return st.setEnv(c), nil
	case *instructions.LabelCommand:
		if st.run.Labels == nil {
			st.run.Labels = map[string]string{}
		}
		words := make([]string, 0, len(c.Labels))
		for _, kv := range c.Labels {
			st.run.Labels[kv.Key] = kv.Value
			words = append(words, kv.String())
		}
		return "LABEL " + strings.Join(words, " "), nil
	case *instructions.MaintainerCommand:
		st.maintainer = c.Maintainer
		return "MAINTAINER " + c.Maintainer, nil
	case *instructions.ArgCommand:
		words := make([]string, 0, len(c.Args))
		for _, kv := range c.Args {
			st.args[kv.Key] = kv.Value
			st.bd.usedArgs[kv.Key] = true
			w := kv.Key // as docker's: "K=V" only for an ARG with a default
			if kv.Value != nil {
				w += "=" + *kv.Value
			}
			words = append(words, w)
		}
		return "ARG " + strings.Join(words, " "), nil
	case *instructions.WorkdirCommand:
		if c.Path == "" {
			return "", errdefs.Invalid("WORKDIR cannot be empty")
		}
		st.run.WorkingDir = path.Clean(absPath(st.run.WorkingDir, c.Path))
		return "WORKDIR " + st.run.WorkingDir, nil
	case *instructions.UserCommand:
		st.run.User = c.User
		return "USER " + c.User, nil
	case *instructions.ExposeCommand:
		return st.expose(c)
	case *instructions.VolumeCommand:
		if st.run.Volumes == nil {
			st.run.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if strings.TrimSpace(v) == "" {
				return "", errdefs.Invalid("VOLUME specified can not be an empty string")
			}
			st.run.Volumes[v] = struct{}{}
		}
		return fmt.Sprintf("VOLUME %v", c.Volumes), nil
	case *instructions.StopSignalCommand:
		if _, err := parseSignal(c.Signal); err != nil {
			return "", err
		}
		st.run.StopSignal = c.Signal
		return "STOPSIGNAL " + c.Signal, nil
	case *instructions.ShellCommand:
		st.run.Shell = append([]string(nil), c.Shell...)
		return fmt.Sprintf("SHELL %v", c.Shell), nil
	case *instructions.CmdCommand:
		st.run.Cmd = st.cmdLine(c.ShellDependantCmdLine)
		st.run.ArgsEscaped = false
		st.cmdSet = len(st.run.Cmd) > 0
		return fmt.Sprintf("CMD %q", []string(st.run.Cmd)), nil
	case *instructions.EntrypointCommand:
		st.run.Entrypoint = st.cmdLine(c.ShellDependantCmdLine)
		if len(st.run.Entrypoint) == 0 {
			st.run.Entrypoint = nil
		}
		st.run.ArgsEscaped = false
		if !st.cmdSet {
			st.run.Cmd = nil
		}
		return fmt.Sprintf("ENTRYPOINT %q", []string(st.run.Entrypoint)), nil
	case *instructions.HealthCheckCommand:
		if old := st.run.Healthcheck; old != nil && len(old.Test) > 0 && old.Test[0] != "NONE" && st.bd.out != nil {
			st.bd.out.printf("Note: overriding previous HEALTHCHECK: %v\n", old.Test)
		}
		h := *c.Health
		st.run.Healthcheck = &h
		// docker's fmt.Sprintf("%q") of the *HealthConfig, field by field.
		return fmt.Sprintf("HEALTHCHECK &{%q %q %q %q %q %q}", []string(h.Test), h.Interval.String(), h.Timeout.String(),
			h.StartPeriod.String(), h.StartInterval.String(), rune(h.Retries)), nil
	case *instructions.OnbuildCommand:
		if _, err := parseTrigger(c.Expression); err != nil {
			return "", err
		}
		st.run.OnBuild = append(st.run.OnBuild, c.Expression)
		return "ONBUILD " + c.Expression, nil
	}
	return "", errdefs.Invalid("unknown instruction: %s", strings.ToUpper(c.Name()))
}

// setEnv is ENV: each KEY=VALUE replaces KEY or is added.
func (st *stage) setEnv(c *instructions.EnvCommand) string {
	words := make([]string, 0, len(c.Env))
	for _, kv := range c.Env {
		set := kv.Key + "=" + kv.Value
		replaced := false
		for i, old := range st.run.Env {
			if k, _, _ := strings.Cut(old, "="); k == kv.Key {
				st.run.Env[i], replaced = set, true
			}
		}
		if !replaced {
			st.run.Env = append(st.run.Env, set)
		}
		words = append(words, kv.String())
	}
	return "ENV " + strings.Join(words, " ")
}

// expose is EXPOSE: ports as docker reads them (80, 80/udp, 8000-8010).
func (st *stage) expose(c *instructions.ExposeCommand) (string, error) {
	var ports []string
	for _, p := range c.Ports {
		ws, err := st.bd.lex.ProcessWords(p, shell.EnvsFromSlice(st.env()))
		if err != nil {
			return "", errdefs.Invalid("EXPOSE %s: %v", p, err)
		}
		ports = append(ports, ws...)
	}
	set, _, err := nat.ParsePortSpecs(ports)
	if err != nil {
		return "", errdefs.Invalid("EXPOSE: %v", err)
	}
	if st.run.ExposedPorts == nil {
		st.run.ExposedPorts = nat.PortSet{}
	}
	for p := range set {
		st.run.ExposedPorts[p] = struct{}{}
	}
	return "EXPOSE " + strings.Join(ports, " "), nil
}

// workdir is WORKDIR: the working directory, made (root's, 0755) when the
// image lacks it.
func (st *stage) workdir(ctx context.Context, c *instructions.WorkdirCommand) error {
	if _, err := st.apply(c); err != nil {
		return err
	}
	dir := st.run.WorkingDir
	return st.mountStep(ctx, st.nopStep("WORKDIR "+dir, true), func(root string) error {
		if err := mkdirInRoot(root, dir); err != nil {
			return errdefs.Invalid("WORKDIR %s: %v", dir, err)
		}
		return nil
	})
}

// cmdLine is a shell-form command with the stage's shell, or an exec form
// as written.
func (st *stage) cmdLine(c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell && len(c.CmdLine) > 0 {
		return append(st.shell(), c.CmdLine...)
	}
	return append([]string(nil), c.CmdLine...)
}

// parseSignal checks a STOPSIGNAL: a name with or without SIG, or a
// number.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.Invalid("invalid signal: %s", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	if strings.HasPrefix(name, "SIGRTMIN") || strings.HasPrefix(name, "SIGRTMAX") {
		return 0, errdefs.Invalid("invalid signal: %s (real-time signals are given by number)", s)
	}
	return 0, errdefs.Invalid("invalid signal: %s", s)
}
