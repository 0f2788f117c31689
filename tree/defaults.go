package tree

import (
	"context"
	"maps"
	"strings"

	"github.com/docker/go-connections/nat"

	"github.com/enginefs/enginefs/engine"
)

// imageDefaults finds the images of records, once each, for withImage.
type imageDefaults struct {
	e      *engine.Engine
	images map[string]*engine.Image // by id; nil for one gone
}

func newImageDefaults(e *engine.Engine) *imageDefaults {
	return &imageDefaults{e: e, images: map[string]*engine.Image{}}
}

// apply returns r with the defaults of its image merged into its config,
// as dockerd shows a container (its create merges them): Cmd and
// Entrypoint when the container set no entrypoint, Env (the image's first,
// PATH among them), WorkingDir, User, ExposedPorts and Labels; and Path
// and Args, the program, for a container not started yet. An image gone
// leaves r as it is.
func (d *imageDefaults) apply(ctx context.Context, r engine.Record) engine.Record {
	img, ok := d.images[r.ImageID]
	if !ok {
		img, _ = d.e.Image(ctx, r.ImageID)
		d.images[r.ImageID] = img
	}
	if img == nil {
		return r
	}
	ic := img.Config.Config
	c := r.Config
	if len(c.Entrypoint) == 0 {
		if len(c.Cmd) == 0 {
			c.Cmd = ic.Cmd
		}
		if c.Entrypoint == nil {
			c.Entrypoint = ic.Entrypoint
		}
	}
	c.Env = mergeEnv(ic.Env, c.Env)
	if c.WorkingDir == "" {
		c.WorkingDir = ic.WorkingDir
	}
	if c.User == "" {
		c.User = ic.User
	}
	if len(ic.ExposedPorts) > 0 {
		ports := nat.PortSet{}
		for p := range ic.ExposedPorts {
			ports[nat.Port(p)] = struct{}{}
		}
		maps.Copy(ports, c.ExposedPorts)
		c.ExposedPorts = ports
	}
	if len(ic.Labels) > 0 {
		labels := maps.Clone(ic.Labels)
		maps.Copy(labels, c.Labels)
		c.Labels = labels
	}
	r.Config = c
	if r.Path == "" {
		if argv := append(append([]string{}, c.Entrypoint...), c.Cmd...); len(argv) > 0 {
			r.Path, r.Args = argv[0], argv[1:]
		}
	}
	return r
}

// mergeEnv is the image's environment with the container's over it, as
// the engine runs it.
func mergeEnv(base, over []string) []string {
	if len(base) == 0 {
		return over
	}
	out := append([]string{}, base...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
