package builder

import (
	"context"
	"io"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/version"
)

// changeVerbs are the instructions docker commit and import take as
// changes (docker's BuildFromConfig).
var changeVerbs = map[string]bool{
	"cmd": true, "entrypoint": true, "healthcheck": true, "env": true, "expose": true, "label": true,
	"onbuild": true, "stopsignal": true, "user": true, "volume": true, "workdir": true,
}

// maxChanges caps the changes of one commit or import, and their size.
const (
	maxChanges    = 256
	maxChangeSize = 64 << 10
)

// applyChanges applies docker's `--change` instructions to cfg, in order,
// as docker commit and import do: config only, nothing runs or is made.
// An instruction outside changeVerbs is errdefs.ErrInvalid.
func applyChanges(cfg *container.Config, changes []string) error {
	if len(changes) > maxChanges {
		return errdefs.Invalid("%d changes, at most %d", len(changes), maxChanges)
	}
	total := 0
	for _, c := range changes {
		total += len(c)
	}
	if total > maxChangeSize {
		return errdefs.Invalid("changes of %d bytes, at most %d", total, maxChangeSize)
	}
	res, err := parser.Parse(strings.NewReader(strings.Join(changes, "\n")))
	if err != nil {
		if len(strings.TrimSpace(strings.Join(changes, ""))) == 0 {
			return nil
		}
		return errdefs.Invalid("%s", parseMessage(err))
	}
	st := &stage{bd: &build{lex: shell.NewLex(res.EscapeToken), usedArgs: map[string]bool{}, metaArgs: map[string]*string{}},
		run: cfg, args: map[string]*string{}, cfg: &imageConfig{}}
	for _, n := range res.AST.Children {
		if !changeVerbs[strings.ToLower(n.Value)] {
			return errdefs.Invalid("%s is not a valid change command", strings.SplitN(strings.TrimSpace(n.Original), " ", 2)[0])
		}
		c, err := instructions.ParseCommand(n)
		if err != nil {
			return errdefs.Invalid("%s", parseMessage(err))
		}
		if err := st.expand(c); err != nil {
			return err
		}
		if _, err := st.apply(c); err != nil {
			return err
		}
	}
	return nil
}

// CommitOptions are docker commit's options.
type CommitOptions struct {
	Ref     string   // the tag of the new image ("" for none)
	Comment string   // the history comment
	Author  string   // the image's author
	Changes []string // instructions applied to the config (see applyChanges)
	NoPause bool     // do not freeze a running container while its changes are read
}

// Commit makes an image of a container's changes, as docker commit does:
// the container's image with one more layer (its changes; none when it
// changed nothing), its config (the image's, with what the container set
// and then the changes), the container's command as the history line. The
// image can serve as build cache, as docker's can. It returns the id.
func (bl *Builder) Commit(ctx context.Context, ref string, o CommitOptions) (string, error) {
	if o.Ref != "" {
		if err := (&Options{Tags: []string{o.Ref}}).validate(); err != nil {
			return "", err
		}
	}
	c, err := bl.b.Get(ref)
	if err != nil {
		return "", err
	}
	rec := c.Record()
	img, err := bl.b.Image(ctx, rec.ImageID)
	if err != nil {
		return "", err
	}
	base, err := configOf(img)
	if err != nil {
		return "", err
	}
	ccfg := containerConfig(base.Config, rec)
	cfg := copyConfig(ccfg)
	if err := applyChanges(cfg, o.Changes); err != nil {
		return "", err
	}
	now := time.Now().UTC()
	spec := imagestore.ImageSpec{Config: func(layer *imagestore.Layer) ([]byte, error) {
		diff := ""
		if layer != nil {
			diff = layer.DiffID
		}
		child := base.child(cfg, ccfg, strings.Join(ccfg.Cmd, " "), o.Author, diff, now)
		child.Container = rec.ID
		child.Comment = o.Comment
		child.History[len(child.History)-1].Comment = o.Comment
		return child.marshal()
	}}
	if o.Ref != "" {
		spec.Tags = []string{o.Ref}
	}
	out, err := bl.b.CommitContainer(ctx, rec.ID, !o.NoPause, spec)
	if err != nil {
		return "", err
	}
	return out.ID, nil
}

// containerConfig is a container's config as docker keeps it: what was
// set at create, over its image's.
func containerConfig(image *container.Config, rec engine.Record) *container.Config {
	c := copyConfig(image)
	cc := rec.Config
	c.Hostname = firstOf(cc.Hostname, shortID(rec.ID))
	c.Image = cc.Image
	if cc.Entrypoint != nil {
		c.Entrypoint, c.Cmd = cc.Entrypoint, nil
		if len(cc.Entrypoint) == 0 {
			c.Entrypoint = nil
		}
	}
	if cc.Cmd != nil {
		c.Cmd = cc.Cmd
	}
	for _, kv := range cc.Env {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range c.Env {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				c.Env[i], replaced = kv, true
			}
		}
		if !replaced {
			c.Env = append(c.Env, kv)
		}
	}
	c.WorkingDir = firstOf(cc.WorkingDir, c.WorkingDir)
	c.User = firstOf(cc.User, c.User)
	c.Tty, c.OpenStdin, c.StdinOnce = cc.Tty, cc.OpenStdin, cc.StdinOnce
	c.StopSignal = firstOf(cc.StopSignal, c.StopSignal)
	if cc.Healthcheck != nil { // already merged over the image's at create
		h := *cc.Healthcheck
		h.Test = slices.Clone(cc.Healthcheck.Test)
		c.Healthcheck = &h
	}
	if len(cc.Labels) > 0 {
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for k, v := range cc.Labels {
			c.Labels[k] = v
		}
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	for p := range cc.ExposedPorts {
		if c.ExposedPorts == nil {
			c.ExposedPorts = nat.PortSet{}
		}
		c.ExposedPorts[p] = struct{}{}
	}
	return c
}

// ImportOptions are docker import's options.
type ImportOptions struct {
	Ref      string   // the tag of the new image ("" for none)
	Changes  []string // instructions applied to the empty config
	Message  string   // the history comment (default "Imported from -")
	Platform *v1.Platform
}

// ConfigureImport makes the job an import: its context is a root file
// system tar (plain or compressed) that becomes an image of one layer.
func (j *Job) ConfigureImport(o ImportOptions) error {
	if o.Ref != "" {
		if err := (&Options{Tags: []string{o.Ref}}).validate(); err != nil {
			return err
		}
	}
	if err := applyChanges(&container.Config{}, o.Changes); err != nil {
		return err
	}
	return j.set(func() { j.imp, j.opts = &o, nil })
}

// importImage is an import job's run: the image of one layer, as docker
// import makes it (no parent, no default PATH, a history entry with only
// the comment).
func (j *Job) importImage(ctx context.Context, o ImportOptions, r io.Reader, out *output) (string, error) {
	cfg := &container.Config{}
	if err := applyChanges(cfg, o.Changes); err != nil {
		return "", err
	}
	msg := firstOf(o.Message, "Imported from -")
	arch, os := goruntime.GOARCH, "linux"
	variant := ""
	if o.Platform != nil {
		arch, os, variant = o.Platform.Architecture, o.Platform.OS, o.Platform.Variant
	}
	now := time.Now().UTC()
	spec := imagestore.ImageSpec{Tar: r, Config: func(layer *imagestore.Layer) ([]byte, error) {
		ic := &imageConfig{Architecture: arch, Variant: variant, OS: os, Created: now, Comment: msg,
			DockerVersion: version.Version, Config: cfg, ContainerConfig: &container.Config{},
			RootFS: rootFS{Type: "layers"}, History: []history{{Created: now, Comment: msg}}}
		if layer != nil {
			ic.RootFS.DiffIDs = []string{layer.DiffID}
		}
		return ic.marshal()
	}}
	if o.Ref != "" {
		spec.Tags = []string{o.Ref}
	}
	img, err := j.bl.b.CreateImage(ctx, spec)
	if err != nil {
		return "", err
	}
	out.send(message{Status: img.ID})
	return img.ID, nil
}

// runImport is an import job's run; its start returns when it ends.
func (j *Job) runImport(ctx context.Context, o ImportOptions, file *os.File) (string, error) {
	out := &output{w: j}
	if file == nil {
		err := errdefs.Invalid("import: no tarball was sent")
		out.fail(err.Error(), 0)
		return "", err
	}
	r, done, err := openContext(file)
	if err != nil {
		return "", err
	}
	defer done()
	id, err := j.importImage(ctx, o, r, out)
	if err != nil {
		out.fail(err.Error(), 0)
	}
	return id, err
}
