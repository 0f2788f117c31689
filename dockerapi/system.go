package dockerapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
)

// ping is GET and HEAD /_ping: the headers the clients negotiate with.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Builder-Version", "1")
	h.Set("Swarm", string(swarm.LocalNodeStateInactive))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte("OK"))
	return err
}

// treeVersion is what the tree's version file says:
// "enginefs 0.1.0 go1.26.0 linux/amd64".
type treeVersion struct {
	version, goVersion, os, arch string
}

func (s *Server) treeVersion(r *http.Request) (treeVersion, error) {
	data, err := s.read(r.Context(), "version")
	if err != nil {
		return treeVersion{}, err
	}
	v := treeVersion{os: runtime.GOOS, arch: runtime.GOARCH}
	f := strings.Fields(string(data))
	if len(f) > 1 {
		v.version = f[1]
	}
	if len(f) > 2 {
		v.goVersion = f[2]
	}
	if len(f) > 3 {
		v.os, v.arch, _ = strings.Cut(f[3], "/")
	}
	return v, nil
}

// treeInfo reads the tree's version and info files.
func (s *Server) treeInfo(r *http.Request) (treeVersion, system.Info, error) {
	var in system.Info
	v, err := s.treeVersion(r)
	if err == nil {
		err = s.readJSON(r.Context(), "info", &in)
	}
	return v, in, err
}

// version is GET /version.
func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	v, in, err := s.treeInfo(r)
	if err != nil {
		return err
	}
	details := map[string]string{
		"ApiVersion": MaxVersion, "MinAPIVersion": MinVersion, "GoVersion": v.goVersion,
		"Os": v.os, "Arch": v.arch, "KernelVersion": in.KernelVersion, "GitCommit": "", "BuildTime": "",
		"Experimental": "false",
	}
	return writeJSON(w, http.StatusOK, types.Version{
		Platform:      struct{ Name string }{Name: "enginefs " + v.version},
		Components:    []types.ComponentVersion{{Name: "Engine", Version: v.version, Details: details}},
		Version:       v.version,
		APIVersion:    MaxVersion,
		MinAPIVersion: MinVersion,
		GoVersion:     v.goVersion,
		Os:            v.os,
		Arch:          v.arch,
		KernelVersion: in.KernelVersion,
	})
}

// info is GET /info: the tree's info (docker's field names) with what
// docker's clients expect beside it.
func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	v, in, err := s.treeInfo(r)
	if err != nil {
		return err
	}
	var drivers struct{ LogDrivers []string }
	_ = s.readJSON(r.Context(), "info", &drivers)
	logDrivers := drivers.LogDrivers
	if len(logDrivers) == 0 {
		logDrivers = []string{"json-file"}
	}
	sum := sha256.Sum256([]byte(in.Name + in.DockerRootDir))
	in.ID = strings.ToUpper(hex.EncodeToString(sum[:16]))
	in.ServerVersion = v.version
	in.OSVersion = ""
	in.IndexServerAddress = "https://index.docker.io/v1/"
	if in.LoggingDriver == "" {
		in.LoggingDriver = "json-file"
	}
	in.CgroupDriver = "cgroupfs"
	in.SystemTime = time.Now().Format(time.RFC3339Nano)
	in.DriverStatus = [][2]string{}
	in.Plugins = system.PluginsInfo{
		Volume:  []string{"local"},
		Network: []string{"bridge", "host", "macvlan", "null"},
		Log:     logDrivers,
	}
	in.RegistryConfig = &registry.ServiceConfig{IndexConfigs: map[string]*registry.IndexInfo{}}
	in.Swarm = swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}
	in.Labels = []string{}
	in.LiveRestoreEnabled = true
	in.MemoryLimit, in.SwapLimit, in.CPUShares, in.CPUSet, in.PidsLimit = true, true, true, true, true
	in.CPUCfsPeriod, in.CPUCfsQuota = true, true
	in.IPv4Forwarding = true
	in.Isolation = ""
	in.Warnings = []string{}
	return writeJSON(w, http.StatusOK, in)
}

// systemDF is GET /system/df: containers from containers/list, images
// from images/list with their layers (images/by-id/<id>/layers: what they
// share, and the store's size counting each layer once), volumes with
// their sizes from volumes/usage; the build cache is empty.
func (s *Server) systemDF(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var ctrs []listEntry
	if err := s.readJSON(ctx, "containers/list", &ctrs); err != nil {
		return err
	}
	imgs, err := s.imageList(ctx)
	if err != nil {
		return err
	}
	vols, err := s.volumeList(ctx, "usage")
	if err != nil {
		return err
	}
	du := types.DiskUsage{
		Images: []*image.Summary{}, Containers: []*container.Summary{},
		Volumes: vols, BuildCache: []*build.CacheRecord{},
	}
	if du.Volumes == nil {
		du.Volumes = []*volume.Volume{}
	}
	for _, c := range ctrs {
		sum := c.Summary
		if sum.Labels == nil {
			sum.Labels = map[string]string{}
		}
		if sum.Ports == nil {
			sum.Ports = []container.Port{}
		}
		if sum.Mounts == nil {
			sum.Mounts = []container.MountPoint{}
		}
		if rw, rootfs, err := s.containerSize(ctx, sum.ID); err == nil {
			sum.SizeRw, sum.SizeRootFs = rw, rootfs
		}
		du.Containers = append(du.Containers, &sum)
	}
	// Each image's layers: DIFF-ID BLOB-DIGEST UNPACKED-SIZE per line.
	layers := map[string][]string{}
	users := map[string]int{}
	sizes := map[string]int64{}
	for _, img := range imgs {
		data, err := s.read(ctx, "images/by-id/"+strings.TrimPrefix(img.ID, "sha256:")+"/layers")
		if err != nil {
			continue // removed meanwhile
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			n, _ := strconv.ParseInt(f[2], 10, 64)
			layers[img.ID] = append(layers[img.ID], f[0])
			if users[f[0]] == 0 {
				du.LayersSize += n
			}
			users[f[0]]++
			sizes[f[0]] = n
		}
	}
	for _, img := range imgs {
		sum := img
		sum.SharedSize = 0
		for _, l := range layers[img.ID] {
			if users[l] > 1 {
				sum.SharedSize += sizes[l]
			}
		}
		du.Images = append(du.Images, &sum)
	}
	return writeJSON(w, http.StatusOK, du)
}
