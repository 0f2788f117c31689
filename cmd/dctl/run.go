package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/fs"
)

// createFlags are the flags run and create share.
type createFlags struct {
	name       string
	env        []string
	workdir    string
	hostname   string
	user       string
	entrypoint string
	rm         bool
}

func (f *createFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.SetInterspersed(false) // flags after the image belong to the container's command
	fl.StringVar(&f.name, "name", "", "assign a name to the container")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables (KEY=value, or KEY to pass the client's value)")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	fl.StringVarP(&f.user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "overwrite the default ENTRYPOINT of the image")
	fl.BoolVar(&f.rm, "rm", false, "automatically remove the container when it exits")
	fl.Bool("help", false, "help for "+cmd.Name()) // keep -h for --hostname, as docker does
}

// line builds the create command for the container's ctl.
func (f *createFlags) line(cmd *cobra.Command, image string, argv []string) ctl.Command {
	c := ctl.Command{Verb: "create", Opts: []ctl.Opt{{Key: "image", Value: image}}}
	opt := func(k, v string) { c.Opts = append(c.Opts, ctl.Opt{Key: k, Value: v}) }
	if f.name != "" {
		opt("name", f.name)
	}
	for _, kv := range f.env {
		if !strings.Contains(kv, "=") {
			v, ok := os.LookupEnv(kv)
			if !ok {
				continue
			}
			kv += "=" + v
		}
		opt("env", kv)
	}
	if f.workdir != "" {
		opt("workdir", f.workdir)
	}
	if f.hostname != "" {
		opt("hostname", f.hostname)
	}
	if f.user != "" {
		opt("user", f.user)
	}
	if cmd.Flags().Changed("entrypoint") {
		opt("entrypoint", f.entrypoint)
	}
	if f.rm {
		opt("rm", "true")
	}
	if len(argv) > 0 {
		c.Argv = argv
	}
	return c
}

// create makes a container through containers/clone and returns its id and
// the clone handle, which acts as the container's ctl until closed.
func (c *cli) create(ctx context.Context, line ctl.Command) (string, fs.Handle, error) {
	client, err := c.connect(ctx)
	if err != nil {
		return "", nil, err
	}
	h, err := client.Open(ctx, "containers/clone", os.O_RDWR)
	if err != nil {
		return "", nil, err
	}
	idb, err := fs.ReadHandle(ctx, h)
	if err != nil {
		h.Close()
		return "", nil, err
	}
	id := strings.TrimSpace(string(idb))
	if err := writeCtl(ctx, h, line.String()); err != nil {
		h.Close()
		return "", nil, err
	}
	return id, h, nil
}

// writeCtl writes one command to an open ctl handle and turns a failure into
// the daemon's message.
func writeCtl(ctx context.Context, h fs.Handle, line string) error {
	_, err := fs.WriteCommand(ctx, h, line)
	return err
}

func (c *cli) createCmd() *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, h, err := c.create(cmd.Context(), f.line(cmd, args[0], args[1:]))
			if err != nil {
				return codeError{err, 125}
			}
			h.Close()
			fmt.Println(id)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func (c *cli) runCmd() *cobra.Command {
	var f createFlags
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, h, err := c.create(ctx, f.line(cmd, args[0], args[1:]))
			if err != nil {
				return codeError{err, 125}
			}
			defer h.Close()
			if detach {
				if err := writeCtl(ctx, h, "start"); err != nil {
					return codeError{err, 125}
				}
				fmt.Println(id)
				return nil
			}
			// Open the output and the wait before start so nothing of
			// the run is missed, even with --rm.
			dir := "containers/" + id + "/"
			log, err := c.client.Open(ctx, dir+"log", os.O_RDONLY)
			if err != nil {
				return codeError{err, 125}
			}
			defer log.Close()
			wait, err := c.client.Open(ctx, dir+"wait", os.O_RDONLY)
			if err != nil {
				return codeError{err, 125}
			}
			defer wait.Close()
			if err := writeCtl(ctx, h, "start"); err != nil {
				return codeError{err, 125}
			}
			code, err := follow(ctx, log, wait, os.Stdout)
			if err != nil {
				return err
			}
			return exitError{code}
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run the container in the background and print its id")
	return cmd
}

// follow copies log to w while the run goes on and returns its exit code once
// wait answers; what the container wrote until then is all in the log.
func follow(ctx context.Context, log, wait fs.Handle, w io.Writer) (int, error) {
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		b, err := fs.ReadHandle(ctx, wait)
		if err != nil {
			done <- result{err: err}
			return
		}
		code, err := strconv.Atoi(strings.TrimSpace(string(b)))
		done <- result{code, err}
	}()
	var off int64
	buf := make([]byte, 64*1024)
	drain := func() error {
		for {
			n, err := log.ReadAt(ctx, buf, off)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return werr
				}
				off += int64(n)
			}
			if err == io.EOF || (err == nil && n == 0) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if err := drain(); err != nil {
				return 0, err
			}
			return r.code, r.err
		case <-tick.C:
			if err := drain(); err != nil {
				return 0, err
			}
		case <-ctx.Done():
			return 0, errors.New("interrupted; the container goes on running")
		}
	}
}
