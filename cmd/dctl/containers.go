package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/fs"
)

// containerDir returns the tree path of a container named by id or name,
// refusing a reference that would reach elsewhere in the tree.
func containerDir(ref string) (string, error) {
	if ref == "" || ref == "." || ref == ".." || strings.ContainsAny(ref, "/\x00") {
		return "", fmt.Errorf("invalid container name or id %q", ref)
	}
	return "containers/" + ref + "/", nil
}

// each runs a ctl command on every container named in args, printing each
// name as typed on success as docker does, and fails if any failed.
func (c *cli) each(cmd *cobra.Command, args []string, v verbs.Verb, quiet bool) error {
	line := verbs.Line(v)
	ctx := cmd.Context()
	client, err := c.connect(ctx)
	if err != nil {
		return err
	}
	var failed []string
	for _, ref := range args {
		dir, err := containerDir(ref)
		if err == nil {
			_, err = fs.Command(ctx, client, dir+"ctl", line)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error response from daemon: %s\n", err)
			failed = append(failed, ref)
			continue
		}
		if !quiet {
			fmt.Println(ref)
		}
	}
	if len(failed) > 0 {
		return exitError{1}
	}
	return nil
}

func (c *cli) startCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "start CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.each(cmd, args, verbs.ContainerStart{}, false)
		},
	}
}

func (c *cli) stopCmd() *cobra.Command {
	var secs int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v verbs.ContainerStop // the container's own stop timeout
			if cmd.Flags().Changed("time") {
				v.Seconds = strconv.Itoa(secs)
			}
			return c.each(cmd, args, v, false)
		},
	}
	cmd.Flags().IntVarP(&secs, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}

func (c *cli) killCmd() *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.each(cmd, args, verbs.ContainerKill{Signal: sig}, false)
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal to send to the container")
	return cmd
}

func (c *cli) rmCmd() *cobra.Command {
	var force, volumes bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.each(cmd, args, verbs.ContainerRm{Force: force, Volumes: volumes}, false)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove anonymous volumes associated with the container")
	return cmd
}

func (c *cli) renameCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.each(cmd, args[:1], verbs.ContainerRename{Name: args[1]}, true)
		},
	}
}

func (c *cli) waitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client, err := c.connect(ctx)
			if err != nil {
				return err
			}
			for _, ref := range args {
				dir, err := containerDir(ref)
				if err != nil {
					return err
				}
				b, err := fs.ReadAll(ctx, client, dir+"wait")
				if err != nil {
					return notFound(err, ref)
				}
				fmt.Print(string(b))
			}
			return nil
		},
	}
}

// notFound gives a lookup failure docker's wording.
func notFound(err error, ref string) error {
	if fs.Errno(err) == syscall.ENOENT {
		return fmt.Errorf("no such container: %s", ref)
	}
	return err
}

// ellipsis cuts s to n characters, ending in … as docker does.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// readJSON reads a JSON file of the tree into v.
func (c *cli) readJSON(ctx context.Context, name string, v any) error {
	client, err := c.connect(ctx)
	if err != nil {
		return err
	}
	b, err := fs.ReadAll(ctx, client, name)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
