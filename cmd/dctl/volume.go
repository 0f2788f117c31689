package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/spf13/cobra"
)

func (c *cli) volumeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	prune := c.pruneCmd("volumes", verbs.VolumePrune{}, "Remove unused volumes (anonymous ones; all with -a)", "Deleted Volumes:")
	var all bool
	prune.Flags().BoolVarP(&all, "all", "a", false, "remove all unused volumes, not just anonymous ones")
	run := prune.RunE
	prune.RunE = func(cmd *cobra.Command, args []string) error {
		if all {
			return c.ctlLine(cmd, "volumes/ctl", verbs.VolumePrune{All: true})
		}
		return run(cmd, args)
	}
	cmd.AddCommand(c.volumeCreateCmd(), c.volumeLsCmd(), prune,
		&cobra.Command{
			Use: "inspect VOLUME [VOLUME...]", Short: "Display detailed information on one or more volumes",
			Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error { return c.inspectObjects(cmd, "volumes", args) },
		},
		c.volumeRmCmd(),
	)
	return cmd
}

func (c *cli) volumeCreateCmd() *cobra.Command {
	var driver string
	var opts, labels []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			line := verbs.VolumeCreate{Driver: driver, Opt: opts, Label: labels}
			if len(args) > 0 {
				line.Name = args[0]
			}
			return c.ctlLine(cmd, "volumes/ctl", line)
		},
	}
	cmd.Flags().StringVarP(&driver, "driver", "d", "local", "volume driver name")
	cmd.Flags().StringArrayVarP(&opts, "opt", "o", nil, "driver specific options (K=V)")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "metadata for a volume (K=V)")
	return cmd
}

func (c *cli) volumeRmCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use: "rm [OPTIONS] VOLUME [VOLUME...]", Aliases: []string{"remove"}, Short: "Remove one or more volumes",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			force, _ := cmd.Flags().GetBool("force")
			failed := false
			for _, name := range args {
				if err := c.ctlLine(cmd, "volumes/ctl", verbs.VolumeRm{Names: []string{name}}); err != nil {
					if force && notFoundErr(err) {
						continue
					}
					fmt.Fprintf(os.Stderr, "Error response from daemon: %s\n", err)
					failed = true
					continue
				}
				fmt.Println(name)
			}
			if failed {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().BoolP("force", "f", false, "do not fail on volumes that do not exist")
	return cmd
}

// volumeEntry mirrors what dctl reads of volumes/list.
type volumeEntry struct {
	Name   string `json:"Name"`
	Driver string `json:"Driver"`
}

func (c *cli) volumeLsCmd() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use: "ls [OPTIONS]", Aliases: []string{"list"}, Short: "List volumes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []volumeEntry
			if err := c.readJSON(cmd.Context(), "volumes/list", &list); err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
			if !quiet {
				fmt.Fprintln(w, "DRIVER\tVOLUME NAME")
			}
			for _, v := range list {
				if quiet {
					fmt.Fprintln(w, v.Name)
					continue
				}
				fmt.Fprintf(w, "%s\t%s\n", v.Driver, v.Name)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display volume names")
	return cmd
}
