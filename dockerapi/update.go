package dockerapi

import (
	"net/http"
	"strconv"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
)

// updateContainer is POST /containers/{name}/update (docker update): the
// limits and restart policy of the body become an update line on the
// container's ctl. A field the tree cannot change is refused, never
// dropped. The answer is docker's {"Warnings":[]}.
func (s *Server) updateContainer(w http.ResponseWriter, r *http.Request) error {
	var req container.UpdateConfig
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	v, err := updateVerb(req)
	if err != nil {
		return err
	}
	if err := s.ctl(r.Context(), r.PathValue("name"), v); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, container.UpdateResponse{Warnings: []string{}})
}

// updateVerb maps docker's UpdateConfig to the tree's update line; a zero
// field is one docker update leaves alone.
func updateVerb(req container.UpdateConfig) (verbs.ContainerUpdate, error) {
	rs := req.Resources
	for _, u := range []struct {
		name string
		set  bool
	}{
		{"BlkioWeight", rs.BlkioWeight != 0},
		{"BlkioWeightDevice", len(rs.BlkioWeightDevice) > 0},
		{"BlkioDeviceReadBps", len(rs.BlkioDeviceReadBps) > 0},
		{"BlkioDeviceWriteBps", len(rs.BlkioDeviceWriteBps) > 0},
		{"BlkioDeviceReadIOps", len(rs.BlkioDeviceReadIOps) > 0},
		{"BlkioDeviceWriteIOps", len(rs.BlkioDeviceWriteIOps) > 0},
		{"CpusetMems", rs.CpusetMems != ""},
		{"CPURealtimePeriod", rs.CPURealtimePeriod != 0},
		{"CPURealtimeRuntime", rs.CPURealtimeRuntime != 0},
		{"KernelMemory", rs.KernelMemory != 0},
		{"KernelMemoryTCP", rs.KernelMemoryTCP != 0},
		{"MemorySwappiness", rs.MemorySwappiness != nil && *rs.MemorySwappiness != -1},
		{"OomKillDisable", rs.OomKillDisable != nil && *rs.OomKillDisable},
		{"Devices", len(rs.Devices) > 0},
		{"DeviceCgroupRules", len(rs.DeviceCgroupRules) > 0},
		{"DeviceRequests", len(rs.DeviceRequests) > 0},
		{"Ulimits", len(rs.Ulimits) > 0},
		{"CgroupParent", rs.CgroupParent != ""},
	} {
		if u.set {
			return verbs.ContainerUpdate{}, errdefs.Invalid("update: %s is not supported by enginefs", u.name)
		}
	}
	num := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	v := verbs.ContainerUpdate{
		Memory: num(rs.Memory), MemorySwap: num(rs.MemorySwap), MemoryReservation: num(rs.MemoryReservation),
		CPUShares: num(rs.CPUShares), CPUQuota: num(rs.CPUQuota), CPUPeriod: num(rs.CPUPeriod),
		CpusetCPUs: rs.CpusetCpus,
	}
	if rs.NanoCPUs != 0 {
		v.CPUs = verbs.FormatCPUs(rs.NanoCPUs)
	}
	if rs.PidsLimit != nil {
		v.PidsLimit = strconv.FormatInt(*rs.PidsLimit, 10)
	}
	if p := req.RestartPolicy; p.Name != "" {
		v.Restart = verbs.FormatRestart(string(p.Name), p.MaximumRetryCount)
	}
	return v, nil
}
