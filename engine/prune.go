package engine

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/enginefs/enginefs/errdefs"
)

// Pruned is one container a prune removed and the bytes its changes held.
type Pruned struct {
	ID   string
	Size int64
}

// Prune removes every container that is not running, paused or restarting
// (created and exited ones) and that match accepts (nil: all), as docker
// container prune; it returns them in id order with the size of their
// changes (SizeRw). A container that starts or goes meanwhile is skipped.
func (e *Engine) Prune(ctx context.Context, match func(Record) bool) ([]Pruned, error) {
	out := []Pruned{}
	cs := e.List()
	sort.Slice(cs, func(i, j int) bool { return cs[i].id < cs[j].id })
	for _, c := range cs {
		rec := c.Record()
		if st := rec.State.Status; st != StatusCreated && st != StatusExited {
			continue
		}
		if match != nil && !match(rec) {
			continue
		}
		size, _ := e.SizeRw(c.id)
		if err := e.Remove(ctx, c.id, false); err != nil {
			if errors.Is(err, errdefs.ErrBusy) || errors.Is(err, errdefs.ErrNotFound) {
				continue
			}
			return out, err
		}
		out = append(out, Pruned{ID: c.id, Size: size})
	}
	return out, nil
}

// SizeRw is the size of the files a container changed or added (its
// overlay upper directory), as docker's SizeRw: 0 for a container never
// started.
func (e *Engine) SizeRw(id string) (int64, error) {
	return dirSize(filepath.Join(e.containerDir(id), "upper"))
}

// dirSize sums the sizes of the regular files and symlinks under dir; a
// missing dir is 0.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}
