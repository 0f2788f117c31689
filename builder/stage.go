package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// defaultPath is the PATH docker's builder gives a stage whose image has
// none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stage is the state of the stage being built: its image so far and the
// config the next step starts from.
type stage struct {
	bd   *build
	name string // lower case, "" if unnamed

	imageID    string       // the image so far ("" before the first step of FROM scratch)
	cfg        *imageConfig // its config
	run        *container.Config
	args       map[string]*string // the ARGs declared in this stage, with their defaults
	maintainer string
	cmdSet     bool // a CMD of this stage set the command
	busted     bool // a step missed the cache: the rest of the stage does too
}

// from starts the stage s (number i): its base image, pulled if missing
// (or always with Pull), a previous stage, or scratch; then the base's
// ONBUILD triggers.
func (bd *build) from(ctx context.Context, s *instructions.Stage, i int) (*stage, error) {
	bd.step++
	bd.out.printf("Step %d/%d : %s\n", bd.step, bd.plan.total, strings.TrimSpace(s.SourceCode))
	st := &stage{bd: bd, name: s.Name, args: map[string]*string{}}
	exp := bd.expander(bd.metaEnv())
	base, err := exp(s.BaseName)
	if err != nil {
		return nil, errdefs.Invalid("FROM %s: %v", s.BaseName, err)
	}
	if base == "" {
		return nil, errdefs.Invalid("base name (%s) should not be blank", s.BaseName)
	}
	platform := bd.opts.Platform
	if s.Platform != "" {
		ps, err := exp(s.Platform)
		if err != nil {
			return nil, errdefs.Invalid("FROM --platform=%s: %v", s.Platform, err)
		}
		if platform, err = v1.ParsePlatform(ps); err != nil {
			return nil, errdefs.Invalid("FROM --platform=%s: %v", ps, err)
		}
	}
	switch prev, ok := bd.stageByName(base); {
	case ok:
		st.imageID, st.cfg = prev.imageID, prev.cfg
	case strings.EqualFold(base, "scratch"):
		arch, os := goruntime.GOARCH, "linux"
		if platform != nil {
			arch, os = platform.Architecture, platform.OS
		}
		st.cfg = &imageConfig{Architecture: arch, OS: os, Config: &container.Config{}, RootFS: rootFS{Type: "layers"}}
	default:
		img, err := bd.baseImage(ctx, base, platform)
		if err != nil {
			return nil, err
		}
		st.imageID = img.ID
		if st.cfg, err = configOf(img); err != nil {
			return nil, err
		}
	}
	st.run = copyConfig(st.cfg.Config)
	if !hasPath(st.run.Env) {
		st.run.Env = append(st.run.Env, defaultPath)
	}
	st.run.OpenStdin, st.run.StdinOnce = false, false
	st.run.Image = st.imageID
	if triggers := st.run.OnBuild; len(triggers) > 0 {
		st.run.OnBuild = nil
		plural := ""
		if len(triggers) > 1 {
			plural = "s"
		}
		bd.out.printf("# Executing %d build trigger%s\n", len(triggers), plural)
		for _, t := range triggers {
			c, err := parseTrigger(t)
			if err != nil {
				return nil, err
			}
			if err := st.dispatch(ctx, c); err != nil {
				return nil, err
			}
		}
	}
	bd.out.printf(" ---> %s\n", shortID(st.imageID))
	return st, nil
}

// baseImage finds the image of a FROM (or COPY --from) line: the local
// one, unless the build pulls; pulled when absent.
func (bd *build) baseImage(ctx context.Context, ref string, platform *v1.Platform) (*imagestore.Image, error) {
	if !bd.opts.Pull {
		img, err := bd.b.Image(ctx, ref)
		if err == nil || !errors.Is(err, errdefs.ErrNotFound) {
			return img, err
		}
	}
	res, err := bd.b.PullImage(ctx, ref, imagestore.PullOptions{
		Platform: platform,
		Auth:     bd.opts.authFor(ref),
		Progress: func(p imagestore.Progress) {
			if data, err := json.Marshal(p); err == nil {
				bd.out.raw(data)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return res.Image, nil
}

// configOf is an image's config as the builder changes it.
func configOf(img *imagestore.Image) (*imageConfig, error) {
	data, err := json.Marshal(img.Config)
	if err != nil {
		return nil, errdefs.Invalid("image %s: config: %w", img.ID, err)
	}
	return parseImageConfig(data)
}

// parseTrigger parses an ONBUILD trigger: one instruction, not FROM.
func parseTrigger(t string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(t))
	if err != nil {
		return nil, errdefs.Invalid("ONBUILD trigger %q: %v", t, parseMessage(err))
	}
	if len(res.AST.Children) != 1 {
		return nil, errdefs.Invalid("onbuild trigger should be a single expression")
	}
	c, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		return nil, errdefs.Invalid("ONBUILD trigger %q: %v", t, parseMessage(err))
	}
	if err := checkCommand(c); err != nil {
		return nil, errdefs.Invalid("ONBUILD trigger %q: %v", t, err)
	}
	return c, nil
}

func hasPath(env []string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return true
		}
	}
	return false
}

// shell is the shell of shell-form commands: SHELL's, else /bin/sh -c.
func (st *stage) shell() []string {
	if len(st.run.Shell) > 0 {
		return append([]string(nil), st.run.Shell...)
	}
	return []string{"/bin/sh", "-c"}
}

// nopCmd is the command docker records for a step that runs nothing:
// the shell, "#(nop) " and the comment as separate words (docker's
// metadata steps, whose history then shows two spaces), or as one
// (WORKDIR, COPY and ADD).
func (st *stage) nopCmd(comment string, oneWord bool) []string {
	if oneWord {
		return append(st.shell(), "#(nop) "+comment)
	}
	return append(st.shell(), "#(nop) ", comment)
}

// env is the environment words expand with: the config's, and the ARGs of
// the stage (their build-arg values, else defaults, else the meta ARGs')
// that the config does not set.
func (st *stage) env() []string {
	env := append([]string(nil), st.run.Env...)
	for _, kv := range st.buildArgs() {
		k, _, _ := strings.Cut(kv, "=")
		if !hasKey(env, k) {
			env = append(env, kv)
		}
	}
	return env
}

// buildArgs are the ARGs of the stage with a value, "K=V", sorted, and the
// proxy args given as build args (docker passes those without an ARG).
func (st *stage) buildArgs() []string {
	var out []string
	for k, def := range st.args {
		if v := st.argValue(k, def); v != nil {
			out = append(out, k+"="+*v)
		}
	}
	for k, v := range st.bd.opts.BuildArgs {
		if proxyArgs[k] && v != nil {
			if _, declared := st.args[k]; !declared {
				out = append(out, k+"="+*v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// argValue is an ARG's value: the build arg's, else its default, else the
// meta ARG's.
func (st *stage) argValue(k string, def *string) *string {
	if v, ok := st.bd.opts.BuildArgs[k]; ok && v != nil {
		return v
	}
	if def != nil {
		return def
	}
	return st.bd.metaArgs[k]
}

// expand expands a command's words with the stage's environment.
func (st *stage) expand(c instructions.Command) error {
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if err := e.Expand(st.bd.expander(st.env())); err != nil {
			return errdefs.Invalid("%s: %v", commandText(c), err)
		}
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		if err := e.ExpandRaw(st.bd.expander(st.env())); err != nil {
			return errdefs.Invalid("%s: %v", commandText(c), err)
		}
	}
	return nil
}

func hasKey(env []string, k string) bool {
	for _, kv := range env {
		if ek, _, _ := strings.Cut(kv, "="); ek == k {
			return true
		}
	}
	return false
}

// step is a step's image as the cache knows it: its parent, its
// container config (docker's ContainerConfig: what the cache compares),
// and its history line.
type step struct {
	probe     *container.Config
	createdBy string
}

// key is the build cache key of s on top of the stage's image: the parent
// and the container config without the fields docker's cache ignores
// (hostname, domain name, image, MAC address), on the stage's platform.
func (st *stage) key(s step) string {
	p := copyConfig(s.probe)
	p.Hostname, p.Domainname, p.Image, p.MacAddress = "", "", "", "" //nolint:staticcheck // MacAddress is docker's
	data, _ := json.Marshal(struct {
		Parent, OS, Arch, Author string
		Config                   *container.Config
	}{st.imageID, st.cfg.OS, st.cfg.Architecture, st.maintainer, p})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// cached looks s up in the cache (unless the build or the stage is past
// it) and, on a hit, takes the cached image and says so.
func (st *stage) cached(ctx context.Context, s step) (bool, error) {
	if st.bd.opts.NoCache || st.busted {
		return false, nil
	}
	img, err := st.bd.b.CachedImage(ctx, st.imageID, st.key(s))
	if errors.Is(err, errdefs.ErrNotFound) {
		img, err = st.bd.cacheFrom(ctx, st, s)
	}
	if errors.Is(err, errdefs.ErrNotFound) {
		st.busted = true
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cfg, err := configOf(img)
	if err != nil {
		return false, err
	}
	st.bd.out.printf(" ---> Using cache\n")
	st.adopt(img.ID, cfg)
	return true, nil
}

// adopt makes id (with config cfg) the stage's image.
func (st *stage) adopt(id string, cfg *imageConfig) {
	st.imageID, st.cfg = id, cfg
	st.run = copyConfig(cfg.Config)
	st.run.Image = id
}

// commit stores the image of step s: made by make (which gets the spec,
// with its Config and CacheKey set, and stores it with its changes), or
// without changes when make is nil.
func (st *stage) commit(ctx context.Context, s step, make func(imagestore.ImageSpec) (*imagestore.Image, error)) error {
	st.busted = true
	now := time.Now().UTC()
	var child *imageConfig
	spec := imagestore.ImageSpec{
		Parent:   st.imageID,
		CacheKey: st.key(s),
		Config: func(layer *imagestore.Layer) ([]byte, error) {
			diff := ""
			if layer != nil {
				diff = layer.DiffID
			}
			child = st.cfg.child(st.run, s.probe, s.createdBy, st.maintainer, diff, now)
			return child.marshal()
		},
	}
	if make == nil {
		make = func(spec imagestore.ImageSpec) (*imagestore.Image, error) { return st.bd.b.CreateImage(ctx, spec) }
	}
	img, err := make(spec)
	if err != nil {
		return err
	}
	st.bd.created = append(st.bd.created, img.ID)
	st.adopt(img.ID, child)
	return nil
}

// nopStep is the step of an instruction that runs nothing: its probe is
// the config with the comment as its command (nopCmd).
func (st *stage) nopStep(comment string, oneWord bool) step {
	s := step{probe: copyConfig(st.run)}
	s.probe.Cmd = st.nopCmd(comment, oneWord)
	s.createdBy = strings.Join(s.probe.Cmd, " ")
	return s
}

// metadata runs a step that changes only the config (ENV, LABEL, CMD...):
// apply has changed st.run; comment is the step's history comment.
func (st *stage) metadata(ctx context.Context, comment string) error {
	s := st.nopStep(comment, false)
	if hit, err := st.cached(ctx, s); hit || err != nil {
		return err
	}
	return st.commit(ctx, s, nil)
}

// mountStep runs a step that changes files without a container (WORKDIR,
// COPY, ADD): unless cached, change gets a mount of the stage's image to
// change, and the changes are the next image.
func (st *stage) mountStep(ctx context.Context, s step, change func(root string) error) error {
	if hit, err := st.cached(ctx, s); hit || err != nil {
		return err
	}
	m, err := st.bd.b.MountImage(ctx, st.imageID)
	if err != nil {
		return err
	}
	defer m.Release()
	if err := change(m.Root); err != nil {
		return err
	}
	return st.commit(ctx, s, func(spec imagestore.ImageSpec) (*imagestore.Image, error) { return m.Commit(ctx, spec) })
}
