package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/fs"
)

// containerCmd is docker container's group, with what dctl's top-level
// commands lack: prune.
func (c *cli) containerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "container", Short: "Manage containers"}
	cmd.AddCommand(c.containerPruneCmd())
	return cmd
}

// containerPruneCmd is docker container prune: containers/ctl's prune with
// docker's filters (until=, label=, label!=); it prints the ids removed and
// the space reclaimed, as docker does.
func (c *cli) containerPruneCmd() *cobra.Command {
	var filters []string
	cmd := &cobra.Command{
		Use: "prune [OPTIONS]", Short: "Remove all stopped containers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := pruneFilters(filters)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			client, err := c.connect(ctx)
			if err != nil {
				return err
			}
			reply, err := fs.Command(ctx, client, "containers/ctl", verbs.Line(v))
			var total int64
			if lines := strings.Fields(reply); len(lines) > 0 {
				fmt.Println("Deleted Containers:")
				for i := 0; i+1 < len(lines); i += 2 {
					fmt.Println(lines[i])
					n, _ := strconv.ParseInt(lines[i+1], 10, 64)
					total += n
				}
				fmt.Println()
			}
			fmt.Printf("Total reclaimed space: %s\n", units.HumanSize(float64(total)))
			return err
		},
	}
	cmd.Flags().BoolP("force", "f", false, "do not prompt for confirmation (dctl never prompts)")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (e.g. until=<timestamp>, label=K[=V], label!=K[=V])")
	return cmd
}

// pruneFilters reads docker's --filter values of a prune.
func pruneFilters(filters []string) (verbs.ContainerPrune, error) {
	var v verbs.ContainerPrune
	for _, f := range filters {
		k, val, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return v, fmt.Errorf("bad format of filter (expected name=value): %s", f)
		case k == "until":
			v.Until = val
		case k == "label":
			v.Label = append(v.Label, val)
		case k == "label!":
			v.LabelNot = append(v.LabelNot, val)
		default:
			return v, fmt.Errorf("invalid filter '%s'", k)
		}
	}
	return v, nil
}
