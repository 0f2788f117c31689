package tree

import (
	"context"
	"strings"
	"text/tabwriter"

	"github.com/docker/docker/api/types/container"
	"github.com/enginefs/enginefs/engine"
)

// stats is containers/<id>/stats: one sample in docker's stats JSON (the
// types of the Docker API module). precpu_stats holds the previous sample
// read through the tree, so two reads give docker's CPU percentage.
func (t *tree) stats(ctx context.Context, id string) ([]byte, error) {
	c, err := t.e.Get(id)
	if err != nil {
		return nil, err
	}
	s, err := t.e.Stats(ctx, c.ID())
	if err != nil {
		return nil, err
	}
	doc := container.StatsResponse{
		Name:      "/" + c.Record().Name,
		ID:        c.ID(),
		Read:      s.Read,
		PidsStats: container.PidsStats{Current: s.Pids.Current, Limit: s.Pids.Limit},
		CPUStats:  cpuStats(s.CPU),
		MemoryStats: container.MemoryStats{
			Usage: s.Memory.Usage, MaxUsage: s.Memory.MaxUsage, Failcnt: s.Memory.Failcnt,
			Limit: s.Memory.Limit, Stats: s.Memory.Stats,
		},
		Networks: map[string]container.NetworkStats{},
	}
	doc.BlkioStats.IoServiceBytesRecursive = []container.BlkioStatEntry{}
	for _, b := range s.Blkio.IoServiceBytesRecursive {
		doc.BlkioStats.IoServiceBytesRecursive = append(doc.BlkioStats.IoServiceBytesRecursive,
			container.BlkioStatEntry{Major: b.Major, Minor: b.Minor, Op: b.Op, Value: b.Value})
	}
	for name, n := range s.Networks {
		doc.Networks[name] = container.NetworkStats{
			RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
			TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped,
		}
	}
	t.mu.Lock()
	if prev, ok := t.lastStats[c.ID()]; ok {
		doc.PreRead, doc.PreCPUStats = prev.Read, prev.CPUStats
	}
	t.lastStats[c.ID()] = doc
	t.mu.Unlock()
	return jsonDoc(doc)
}

func cpuStats(c engine.CPUStats) container.CPUStats {
	return container.CPUStats{
		CPUUsage: container.CPUUsage{
			TotalUsage: c.TotalUsage, PercpuUsage: c.PercpuUsage,
			UsageInKernelmode: c.UsageInKernelmode, UsageInUsermode: c.UsageInUsermode,
		},
		SystemUsage: c.SystemUsage,
		OnlineCPUs:  c.OnlineCPUs,
		ThrottlingData: container.ThrottlingData{
			Periods: c.Throttling.Periods, ThrottledPeriods: c.Throttling.ThrottledPeriods,
			ThrottledTime: c.Throttling.ThrottledTime,
		},
	}
}

// top is containers/<id>/top: the container's processes as `ps -ef` shows them.
func (t *tree) top(ctx context.Context, id string) ([]byte, error) {
	procs, err := t.e.Top(ctx, id)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	w.Write([]byte(strings.Join(engine.PsTitles, "\t") + "\n"))
	for _, p := range procs {
		w.Write([]byte(strings.Join(p.Row(), "\t") + "\n"))
	}
	w.Flush()
	return []byte(b.String()), nil
}
