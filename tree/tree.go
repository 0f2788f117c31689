// Package tree presents an engine as the enginefs file tree: the one API that
// FUSE, 9P and the REST bridge all serve. It maps engine objects to fs nodes
// and ctl lines to engine calls; it holds no state of its own beyond the last
// error of each directory and the last stats sample of each container.
//
// Entry point: New returns the root directory.
package tree

import (
	"context"
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/container"

	"github.com/enginefs/enginefs/builder"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/engine/volume"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/version"
)

// tree holds what the nodes share.
type tree struct {
	e *engine.Engine
	n *network.Manager
	v *volume.Manager
	b *builder.Builder

	mu        sync.Mutex
	errs      map[string]*fs.ErrSlot             // last error per directory path
	added     int                                // slots made since the last prune
	lastStats map[string]container.StatsResponse // the last stats read, per container

	pulls, pushes *jobs // image transfers (tree/pulls.go)
}

// New returns the root of the tree over the containers and images of e,
// the networks of n, the volumes of v and the builds of b.
func New(e *engine.Engine, n *network.Manager, v *volume.Manager, b *builder.Builder) fs.Dir {
	t := &tree{e: e, n: n, v: v, b: b, errs: map[string]*fs.ErrSlot{}, lastStats: map[string]container.StatsResponse{}}
	return fs.StaticDir{
		{Name: "version", Node: fs.Text(fmt.Sprintf("enginefs %s %s %s/%s\n", version.Version, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH))},
		{Name: "info", Node: fs.ReadFile(t.info)},
		{Name: "events", Node: t.events()},
		{Name: "containers", Node: t.containers()},
		{Name: "images", Node: t.images()},
		{Name: "networks", Node: t.networks()},
		{Name: "volumes", Node: t.volumes()},
		{Name: "builds", Node: t.builds()},
	}
}

// slot returns the error slot of a directory.
func (t *tree) slot(dir string) *fs.ErrSlot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.errs[dir]
	if !ok {
		s = &fs.ErrSlot{}
		t.errs[dir] = s
		if t.added++; t.added > 256 {
			t.prune()
		}
	}
	return s
}

// prune drops the slots of containers that are gone (auto-removed, or
// reserved by clone and released) and of transfers the engine forgot, so
// the map does not grow with every container or pull ever made. t.mu is
// held.
func (t *tree) prune() {
	t.added = 0
	for dir := range t.errs {
		if id, ok := strings.CutPrefix(dir, "containers/"); ok {
			if _, err := t.e.Get(strings.SplitN(id, "/", 2)[0]); err != nil {
				delete(t.errs, dir)
			}
		}
		if n, ok := strings.CutPrefix(dir, "builds/"); ok {
			if _, err := t.b.Job(n); err != nil {
				delete(t.errs, dir)
			}
		}
		for prefix, kind := range map[string]string{"images/pulls/": engine.TransferPull, "images/pushes/": engine.TransferPush} {
			if n, ok := strings.CutPrefix(dir, prefix); ok {
				if _, err := t.e.TransferByNumber(kind, n); err != nil {
					delete(t.errs, dir)
				}
			}
		}
	}
	for id := range t.lastStats {
		if _, err := t.e.Get(id); err != nil {
			delete(t.lastStats, id)
		}
	}
}

// forget drops the error slot of a directory that went away.
func (t *tree) forget(dir string) {
	t.mu.Lock()
	delete(t.errs, dir)
	t.mu.Unlock()
}

func (t *tree) info(ctx context.Context) ([]byte, error) {
	return jsonDoc(t.e.Info(ctx))
}

// jsonDoc formats v as an indented JSON document ending in a newline.
func jsonDoc(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
