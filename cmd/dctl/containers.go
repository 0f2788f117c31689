package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/docker/go-units"
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

func (c *cli) logsCmd() *cobra.Command {
	var followFlag bool
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client, err := c.connect(ctx)
			if err != nil {
				return err
			}
			dir, err := containerDir(args[0])
			if err != nil {
				return err
			}
			log, err := client.Open(ctx, dir+"log", os.O_RDONLY)
			if err != nil {
				return notFound(err, args[0])
			}
			defer log.Close()
			if !followFlag {
				b, err := fs.ReadHandle(ctx, log)
				os.Stdout.Write(b)
				return err
			}
			wait, err := client.Open(ctx, dir+"wait", os.O_RDONLY)
			if err != nil {
				return notFound(err, args[0])
			}
			defer wait.Close()
			_, err = follow(ctx, log, wait, os.Stdout)
			return err
		},
	}
	cmd.Flags().BoolVarP(&followFlag, "follow", "f", false, "follow log output until the container exits")
	return cmd
}

// listEntry mirrors an element of containers/list.
type listEntry struct {
	ID      string   `json:"Id"`
	Names   []string `json:"Names"`
	Image   string   `json:"Image"`
	Command string   `json:"Command"`
	Created int64    `json:"Created"`
	State   string   `json:"State"`
	Status  string   `json:"Status"`
	Ports   []port   `json:"Ports"`
}

// port is a published port of containers/list.
type port struct {
	IP          string `json:"IP"`
	PrivatePort int    `json:"PrivatePort"`
	PublicPort  int    `json:"PublicPort"`
	Type        string `json:"Type"`
}

// portsColumn formats the PORTS column as docker does: 0.0.0.0:8080->80/tcp.
func portsColumn(ps []port) string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p.PublicPort == 0 {
			out = append(out, fmt.Sprintf("%d/%s", p.PrivatePort, p.Type))
			continue
		}
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", p.IP, p.PublicPort, p.PrivatePort, p.Type))
	}
	return strings.Join(out, ", ")
}

func (c *cli) psCmd() *cobra.Command {
	var all, quiet, noTrunc bool
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []listEntry
			if err := c.readJSON(cmd.Context(), "containers/list", &list); err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
			if !quiet {
				fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
			}
			for _, e := range list {
				if !all && e.State != "running" {
					continue
				}
				id, command := e.ID, strconv.Quote(e.Command)
				if !noTrunc {
					id, command = id[:12], strconv.Quote(ellipsis(e.Command, 20))
				}
				if quiet {
					fmt.Fprintln(w, id)
					continue
				}
				names := make([]string, len(e.Names))
				for i, n := range e.Names {
					names[i] = strings.TrimPrefix(n, "/")
				}
				created := units.HumanDuration(time.Since(time.Unix(e.Created, 0))) + " ago"
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, e.Image, command, created, e.Status, portsColumn(e.Ports), strings.Join(names, ","))
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	return cmd
}

// ellipsis cuts s to n characters, ending in … as docker does.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func (c *cli) inspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect CONTAINER [CONTAINER...]",
		Short: "Return low-level information on containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var docs []json.RawMessage
			for _, ref := range args {
				dir, err := containerDir(ref)
				if err != nil {
					return err
				}
				var doc json.RawMessage
				if err := c.readJSON(cmd.Context(), dir+"inspect", &doc); err != nil {
					return notFound(err, ref)
				}
				docs = append(docs, doc)
			}
			out, err := json.MarshalIndent(docs, "", "    ")
			if err != nil {
				return err
			}
			fmt.Println(string(out))
			return nil
		},
	}
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
