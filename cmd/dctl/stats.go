package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// statsDoc is the part of a stats file (docker's stats JSON) dctl shows.
type statsDoc struct {
	Name     string `json:"name"`
	ID       string `json:"id"`
	CPUStats struct {
		CPUUsage struct {
			TotalUsage uint64 `json:"total_usage"`
		} `json:"cpu_usage"`
		SystemUsage uint64 `json:"system_cpu_usage"`
		OnlineCPUs  uint32 `json:"online_cpus"`
	} `json:"cpu_stats"`
	MemoryStats struct {
		Usage uint64            `json:"usage"`
		Limit uint64            `json:"limit"`
		Stats map[string]uint64 `json:"stats"`
	} `json:"memory_stats"`
	PidsStats struct {
		Current uint64 `json:"current"`
	} `json:"pids_stats"`
	BlkioStats struct {
		IoServiceBytesRecursive []struct {
			Op    string `json:"op"`
			Value uint64 `json:"value"`
		} `json:"io_service_bytes_recursive"`
	} `json:"blkio_stats"`
	Networks map[string]struct {
		RxBytes uint64 `json:"rx_bytes"`
		TxBytes uint64 `json:"tx_bytes"`
	} `json:"networks"`
}

func (c *cli) statsCmd() *cobra.Command {
	var noStream, all bool
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			refs := args
			if len(refs) == 0 {
				var list []listEntry
				if err := c.readJSON(ctx, "containers/list", &list); err != nil {
					return err
				}
				for _, e := range list {
					if all || e.State == "running" {
						refs = append(refs, e.ID)
					}
				}
			}
			prev, err := c.sample(ctx, refs)
			if err != nil {
				return err
			}
			for {
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
					return nil
				}
				cur, err := c.sample(ctx, refs)
				if err != nil {
					return err
				}
				if !noStream {
					fmt.Print("\033[2J\033[H") // clear the screen, as docker does
				}
				printStats(refs, prev, cur)
				if noStream {
					return nil
				}
				prev = cur
			}
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "disable streaming stats and only pull the first result")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	return cmd
}

// sample reads the stats of each container; a container that went is left out.
func (c *cli) sample(ctx context.Context, refs []string) (map[string]statsDoc, error) {
	out := map[string]statsDoc{}
	for _, ref := range refs {
		dir, err := containerDir(ref)
		if err != nil {
			return nil, err
		}
		var d statsDoc
		if err := c.readJSON(ctx, dir+"stats", &d); err != nil {
			if len(refs) == 1 {
				return nil, notFound(err, ref)
			}
			continue
		}
		out[ref] = d
	}
	return out, nil
}

// printStats prints docker's stats table; CPU % is the container's share of
// the host's CPU time between the two samples, times the CPUs online.
func printStats(refs []string, prev, cur map[string]statsDoc) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
	for _, ref := range refs {
		d, ok := cur[ref]
		if !ok {
			continue
		}
		p := prev[ref]
		cpu := 0.0
		if dsys := float64(d.CPUStats.SystemUsage) - float64(p.CPUStats.SystemUsage); dsys > 0 {
			dcpu := float64(d.CPUStats.CPUUsage.TotalUsage) - float64(p.CPUStats.CPUUsage.TotalUsage)
			cpu = dcpu / dsys * float64(max(d.CPUStats.OnlineCPUs, 1)) * 100
		}
		mem := d.MemoryStats.Usage
		for _, k := range []string{"total_inactive_file", "inactive_file"} {
			if v, ok := d.MemoryStats.Stats[k]; ok && v < mem {
				mem -= v
				break
			}
		}
		memPct := 0.0
		if d.MemoryStats.Limit > 0 {
			memPct = float64(mem) / float64(d.MemoryStats.Limit) * 100
		}
		var rx, tx, rd, wr uint64
		for _, n := range d.Networks {
			rx, tx = rx+n.RxBytes, tx+n.TxBytes
		}
		for _, b := range d.BlkioStats.IoServiceBytesRecursive {
			switch strings.ToLower(b.Op) {
			case "read":
				rd += b.Value
			case "write":
				wr += b.Value
			}
		}
		dec := func(v uint64) string { return units.HumanSizeWithPrecision(float64(v), 3) }
		fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%s / %s\t%s / %s\t%d\n",
			d.ID[:min(12, len(d.ID))], strings.TrimPrefix(d.Name, "/"), cpu,
			units.BytesSize(float64(mem)), units.BytesSize(float64(d.MemoryStats.Limit)), memPct,
			dec(rx), dec(tx), dec(rd), dec(wr), d.PidsStats.Current)
	}
	w.Flush()
}
