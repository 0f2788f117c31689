package main

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/detachkeys"
	"github.com/enginefs/enginefs/fs"
)

func (c *cli) attachCmd() *cobra.Command {
	var detachKeys string
	var noStdin bool
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			keys, err := detachkeys.Parse(detachKeys)
			if err != nil {
				return err
			}
			dir, err := containerDir(args[0])
			if err != nil {
				return err
			}
			var doc struct {
				Config struct{ Tty, OpenStdin bool }
				State  struct{ Running bool }
			}
			if err := c.readJSON(ctx, dir+"inspect", &doc); err != nil {
				return notFound(err, args[0])
			}
			if !doc.State.Running {
				return errors.New("you cannot attach to a stopped container, start it first")
			}
			s := &session{client: c.client, dir: dir, tty: doc.Config.Tty,
				stdin: doc.Config.OpenStdin && !noStdin, detachKeys: keys}
			if err := s.open(ctx); err != nil {
				return err
			}
			code, err := s.run(ctx)
			if errors.Is(err, errDetached) {
				return nil
			}
			if err != nil {
				return err
			}
			return exitError{code}
		},
	}
	cmd.Flags().StringVar(&detachKeys, "detach-keys", detachkeys.Default, "key sequence for detaching a container")
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach STDIN")
	return cmd
}

func (c *cli) execCmd() *cobra.Command {
	var interactive, tty, detach bool
	var user, workdir, detachKeys string
	var env []string
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			keys, err := detachkeys.Parse(detachKeys)
			if err != nil {
				return err
			}
			dir, err := containerDir(args[0])
			if err != nil {
				return err
			}
			client, err := c.connect(ctx)
			if err != nil {
				return err
			}
			line := verbs.ExecCreate{User: user, Workdir: workdir, Env: env, Tty: tty, Stdin: interactive, Cmd: args[1:]}
			clone, err := client.Open(ctx, dir+"exec/clone", os.O_RDWR)
			if err != nil {
				return notFound(err, args[0])
			}
			defer clone.Close()
			n, err := fs.ReadHandle(ctx, clone)
			if err != nil {
				return err
			}
			if _, err := fs.WriteCommand(ctx, clone, verbs.Line(line)); err != nil {
				return codeError{err, 126}
			}
			s := &session{client: client, dir: dir + "exec/" + strings.TrimSpace(string(n)) + "/", tty: tty, stdin: interactive, detachKeys: keys}
			if !detach {
				if err := s.open(ctx); err != nil {
					return err
				}
			}
			if _, err := fs.WriteCommand(ctx, clone, verbs.Line(verbs.ExecStart{})); err != nil {
				s.close()
				return codeError{err, 126}
			}
			if detach {
				return nil
			}
			code, err := s.run(ctx)
			if errors.Is(err, errDetached) {
				return nil
			}
			if err != nil {
				return err
			}
			return exitError{code}
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	fl.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.BoolVarP(&detach, "detach", "d", false, "detached mode: run command in the background")
	fl.StringVarP(&user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fl.StringVarP(&workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringArrayVarP(&env, "env", "e", nil, "set environment variables")
	fl.StringVar(&detachKeys, "detach-keys", detachkeys.Default, "key sequence for detaching")
	return cmd
}

func (c *cli) topCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "Display the running processes of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := containerDir(args[0])
			if err != nil {
				return err
			}
			client, err := c.connect(cmd.Context())
			if err != nil {
				return err
			}
			b, err := fs.ReadAll(cmd.Context(), client, dir+"top")
			if err != nil {
				return notFound(err, args[0])
			}
			os.Stdout.Write(b)
			return nil
		},
	}
}

// simple makes a command that writes one ctl line to each container named.
func (c *cli) simple(use, short string, v verbs.Verb) *cobra.Command {
	return &cobra.Command{
		Use:   use + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.each(cmd, args, v, false)
		},
	}
}

func (c *cli) restartCmd() *cobra.Command {
	var secs int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v verbs.ContainerRestart
			if cmd.Flags().Changed("time") {
				v.Seconds = strconv.Itoa(secs)
			}
			return c.each(cmd, args, v, false)
		},
	}
	cmd.Flags().IntVarP(&secs, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}
