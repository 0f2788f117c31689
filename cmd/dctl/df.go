package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// systemCmd is docker system's group: df.
func (c *cli) systemCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Manage the daemon"}
	cmd.AddCommand(c.dfCmd())
	return cmd
}

// dfCmd is docker system df: images (images/list), containers
// (containers/list and each one's size file) and volumes (volumes/usage),
// with docker's columns.
func (c *cli) dfCmd() *cobra.Command {
	return &cobra.Command{
		Use: "df", Short: "Show docker disk usage", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var imgs []image.Summary
			if err := c.readJSON(ctx, "images/list", &imgs); err != nil {
				return err
			}
			var ctrs []struct{ ID, ImageID, State string }
			if err := c.readJSON(ctx, "containers/list", &ctrs); err != nil {
				return err
			}
			var vols []volume.Volume
			if err := c.readJSON(ctx, "volumes/usage", &vols); err != nil {
				return err
			}
			var rows [3]dfRow
			used := map[string]bool{}
			for _, ct := range ctrs {
				used[ct.ImageID] = true
				var sz struct{ SizeRw int64 }
				if err := c.readJSON(ctx, "containers/"+ct.ID+"/size", &sz); err != nil {
					continue // removed meanwhile
				}
				rows[1].add(sz.SizeRw, ct.State == "running" || ct.State == "paused" || ct.State == "restarting")
			}
			for _, img := range imgs {
				rows[0].add(img.Size, used[img.ID])
			}
			for _, v := range vols {
				var n int64
				active := false
				if u := v.UsageData; u != nil {
					n, active = max(u.Size, 0), u.RefCount > 0
				}
				rows[2].add(n, active)
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
			fmt.Fprintln(w, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
			for i, name := range []string{"Images", "Containers", "Local Volumes"} {
				r := rows[i]
				pct := ""
				if r.size > 0 {
					pct = fmt.Sprintf(" (%d%%)", r.reclaimable*100/r.size)
				}
				fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s%s\n", name, r.total, r.active, units.HumanSize(float64(r.size)),
					units.HumanSize(float64(r.reclaimable)), pct)
			}
			return w.Flush()
		},
	}
}

// dfRow is one line of system df.
type dfRow struct {
	total, active     int
	size, reclaimable int64
}

func (r *dfRow) add(size int64, active bool) {
	r.total++
	r.size += size
	if active {
		r.active++
	} else {
		r.reclaimable += size
	}
}
