package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// objectDir returns the tree path of a network or volume named by name or
// id, refusing a reference that would reach elsewhere in the tree.
func objectDir(kind, ref string) (string, error) {
	if ref == "" || ref == "." || ref == ".." || strings.ContainsAny(ref, "/\x00") {
		return "", fmt.Errorf("invalid %s name or id %q", strings.TrimSuffix(kind, "s"), ref)
	}
	return kind + "/" + ref + "/", nil
}

// ctlLine runs one ctl command and prints its reply, if any.
func (c *cli) ctlLine(cmd *cobra.Command, file string, line verbs.Verb) error {
	ctx := cmd.Context()
	client, err := c.connect(ctx)
	if err != nil {
		return err
	}
	reply, err := fs.Command(ctx, client, file, verbs.Line(line))
	if err != nil {
		return err
	}
	if reply != "" {
		fmt.Println(reply)
	}
	return nil
}

// inspectObjects prints the config documents of networks or volumes as one
// JSON array, as docker's inspect does.
func (c *cli) inspectObjects(cmd *cobra.Command, kind string, args []string) error {
	var docs []json.RawMessage
	for _, ref := range args {
		dir, err := objectDir(kind, ref)
		if err != nil {
			return err
		}
		var doc json.RawMessage
		if err := c.readJSON(cmd.Context(), dir+"config", &doc); err != nil {
			return fmt.Errorf("no such %s: %s (%w)", strings.TrimSuffix(kind, "s"), ref, err)
		}
		docs = append(docs, doc)
	}
	out, err := json.MarshalIndent(docs, "", "    ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

func (c *cli) networkCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Manage networks"}
	cmd.AddCommand(c.networkCreateCmd(), c.networkLsCmd(), c.networkConnectCmd(),
		&cobra.Command{
			Use: "inspect NETWORK [NETWORK...]", Short: "Display detailed information on one or more networks",
			Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error { return c.inspectObjects(cmd, "networks", args) },
		},
		&cobra.Command{
			Use: "disconnect NETWORK CONTAINER", Short: "Disconnect a container from a network",
			Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				dir, err := objectDir("networks", args[0])
				if err != nil {
					return err
				}
				return c.ctlLine(cmd, dir+"ctl", verbs.NetworkDisconnect{Container: args[1]})
			},
		},
		&cobra.Command{
			Use: "rm NETWORK [NETWORK...]", Aliases: []string{"remove"}, Short: "Remove one or more networks",
			Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				failed := false
				for _, ref := range args {
					if err := c.ctlLine(cmd, "networks/ctl", verbs.NetworkRm{Names: []string{ref}}); err != nil {
						fmt.Fprintf(os.Stderr, "Error response from daemon: %s\n", err)
						failed = true
						continue
					}
					fmt.Println(ref)
				}
				if failed {
					return exitError{1}
				}
				return nil
			},
		},
		c.pruneCmd("networks", verbs.NetworkPrune{}, "Remove all unused networks", "Deleted Networks:"),
	)
	return cmd
}

// pruneCmd is `network prune` and `volume prune`.
func (c *cli) pruneCmd(kind string, prune verbs.Verb, short, header string) *cobra.Command {
	cmd := &cobra.Command{
		Use: "prune [OPTIONS]", Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client, err := c.connect(ctx)
			if err != nil {
				return err
			}
			reply, err := fs.Command(ctx, client, kind+"/ctl", verbs.Line(prune))
			if reply != "" {
				fmt.Println(header)
				fmt.Println(reply)
			}
			return err
		},
	}
	cmd.Flags().BoolP("force", "f", false, "do not prompt for confirmation (dctl never prompts)")
	return cmd
}

func (c *cli) networkCreateCmd() *cobra.Command {
	var driver, subnet, gateway, ipRange string
	var internal bool
	var opts, labels, aux []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.ctlLine(cmd, "networks/ctl", verbs.NetworkCreate{Name: args[0], Driver: driver, Subnet: subnet,
				Gateway: gateway, IPRange: ipRange, Aux: aux, Internal: internal, Opt: opts, Label: labels})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&driver, "driver", "d", "bridge", "driver to manage the network (bridge, macvlan)")
	fl.StringVar(&subnet, "subnet", "", "subnet in CIDR format (default: a free /24 of the daemon's pool)")
	fl.StringVar(&gateway, "gateway", "", "IPv4 gateway of the subnet (default: its first address)")
	fl.StringVar(&ipRange, "ip-range", "", "allocate container addresses from a sub-range of the subnet (CIDR)")
	fl.StringArrayVar(&aux, "aux-address", nil, "auxiliary IPv4 address the network must not give (NAME=IP)")
	fl.BoolVar(&internal, "internal", false, "restrict external access to the network")
	fl.StringArrayVarP(&opts, "opt", "o", nil, "driver options (parent=IF for macvlan)")
	fl.StringArrayVar(&labels, "label", nil, "metadata on a network (K=V)")
	return cmd
}

func (c *cli) networkConnectCmd() *cobra.Command {
	var ip string
	var aliases []string
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := objectDir("networks", args[0])
			if err != nil {
				return err
			}
			return c.ctlLine(cmd, dir+"ctl", verbs.NetworkConnect{Container: args[1], IP: ip, Alias: aliases})
		},
	}
	cmd.Flags().StringVar(&ip, "ip", "", "IPv4 address")
	cmd.Flags().StringArrayVar(&aliases, "alias", nil, "add network-scoped alias for the container")
	return cmd
}

// networkEntry mirrors what dctl reads of networks/list.
type networkEntry struct {
	Name   string `json:"Name"`
	ID     string `json:"Id"`
	Driver string `json:"Driver"`
	Scope  string `json:"Scope"`
}

func (c *cli) networkLsCmd() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use: "ls [OPTIONS]", Aliases: []string{"list"}, Short: "List networks", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []networkEntry
			if err := c.readJSON(cmd.Context(), "networks/list", &list); err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
			if !quiet {
				fmt.Fprintln(w, "NETWORK ID\tNAME\tDRIVER\tSCOPE")
			}
			for _, n := range list {
				if quiet {
					fmt.Fprintln(w, n.ID[:12])
					continue
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", n.ID[:12], n.Name, n.Driver, n.Scope)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	return cmd
}

// notFoundErr reports whether err is the daemon's "no such object".
func notFoundErr(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }
