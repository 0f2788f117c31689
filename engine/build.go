package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/logs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// What the builder (package builder) and docker commit ask of the engine:
// run a container to its end with its output streamed (RunBuild), make an
// image of a container's changes (CommitContainer: the one snapshot
// primitive, shared by RUN steps and commit), change an image's file
// system without a container (MountImage, for COPY, ADD and WORKDIR), and
// store images (CreateImage, CachedImage).

// BuildRun is the container of a build's RUN step.
type BuildRun struct {
	Image       string   // the id of the image to run
	Cmd         []string // the whole command line: no entrypoint is added
	Env         []string // the whole environment (the image's is not merged in again)
	User        string
	WorkingDir  string
	NetworkMode string // "" is the default network
	Resources
	Ulimits []Ulimit
	ShmSize int64
	// Stdout and Stderr receive the output as it comes.
	Stdout, Stderr io.Writer
	// Started, if set, is told the container's id before it starts.
	Started func(id string)
}

// RunBuild creates a container for r, starts it, copies its output to
// r.Stdout and r.Stderr as it comes and waits for its end. It returns the
// container's id, which stays (exited) for CommitContainer and Remove,
// and its exit code. When ctx ends first the container is killed and the
// error is ctx's; a container made is left for the caller to remove.
func (e *Engine) RunBuild(ctx context.Context, r BuildRun) (string, int, error) {
	cfg := Config{
		Image:       r.Image,
		Entrypoint:  []string{},
		Cmd:         r.Cmd,
		Env:         r.Env,
		User:        r.User,
		WorkingDir:  r.WorkingDir,
		Resources:   r.Resources,
		Ulimits:     r.Ulimits,
		ShmSize:     r.ShmSize,
		Networking:  Networking{NetworkMode: r.NetworkMode},
		StopTimeout: new(int),
		// As docker's builder (withoutHealthcheck): a RUN step is not
		// checked, whatever the image's HEALTHCHECK.
		Healthcheck: &HealthConfig{Test: []string{"NONE"}},
	}
	c, err := e.Create(ctx, "", cfg)
	if err != nil {
		return "", 0, err
	}
	id := c.ID()
	if r.Started != nil {
		r.Started(id)
	}
	out, err := logs.Open(e.containerDir(id))
	if err != nil {
		return id, 0, err
	}
	defer out.Close()
	if err := out.SeekEnd(); err != nil {
		return id, 0, err
	}
	wait := c.Wait()
	if err := e.Start(ctx, id); err != nil {
		return id, 0, err
	}
	copyErr := copyOutput(ctx, out, r.Stdout, r.Stderr)
	if ctx.Err() != nil {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
		defer cancel()
		if err := e.Kill(kctx, id, "KILL"); err != nil && !errors.Is(err, errdefs.ErrBusy) {
			e.logf("build container %s: %v", id, err)
		}
		_, _ = wait(kctx)
		return id, 0, ctx.Err()
	}
	st, err := wait(ctx)
	if err != nil {
		return id, 0, err
	}
	if copyErr != nil {
		return id, 0, fmt.Errorf("container %s: output: %w", id, copyErr)
	}
	return id, st.Code, nil
}

// stopGrace bounds the kill of a cancelled build container.
const stopGrace = 10 * time.Second

// copyOutput copies a log's records to stdout and stderr until the run's
// end.
func copyOutput(ctx context.Context, r *logs.Reader, stdout, stderr io.Writer) error {
	for {
		ent, err := r.Next(ctx, true)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		w := stdout
		if ent.Stream == logs.Stderr {
			w = stderr
		}
		if w != nil {
			if _, err := w.Write(ent.Data); err != nil {
				return err
			}
		}
	}
}

// CommitContainer makes an image of the changes of the container ref to
// its image's file system: docker commit, and each RUN step of a build.
// spec.Parent is set to the container's image and spec.Dir to its
// changes; the mount points the runtime made in it (an /etc/hosts, a /proc
// its image lacks) are left out, as docker keeps them in its init layer.
// With pause, a running container is frozen while its changes are read
// (docker commit's default).
func (e *Engine) CommitContainer(ctx context.Context, ref string, pause bool, spec ImageSpec) (*Image, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	rec := c.Record()
	switch rec.State.Status {
	case StatusNew:
		return nil, errdefs.Busy("container %s is not created yet", c.id)
	case StatusRunning:
		if pause {
			if err := e.Pause(ctx, c.id); err != nil {
				return nil, fmt.Errorf("commit %s: %w", c.id, err)
			}
			defer func() {
				if err := e.Resume(context.WithoutCancel(ctx), c.id); err != nil {
					e.logf("container %s: resume after commit: %v", c.id, err)
				}
			}()
		}
	}
	spec.Parent = rec.ImageID
	spec.Dir = filepath.Join(e.containerDir(c.id), "upper")
	spec.Exclude = readStubs(e.containerDir(c.id))
	if e.remapped(&rec.Config) {
		spec.IDMap = e.remap.remap.ToContainer // the layer holds the ids the container saw
	}
	img, err := e.CreateImage(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.id, err)
	}
	e.emit(rec, "commit", "comment", "")
	return img, nil
}

// CreateImage stores an image (imagestore.Store.Create) and says so in the
// events of its tags.
func (e *Engine) CreateImage(ctx context.Context, spec ImageSpec) (*Image, error) {
	img, err := e.images.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	for _, t := range img.RepoTags {
		e.emitObject("image", "tag", img.ID, "name", t)
	}
	return img, nil
}

// OpenBlob opens a blob of the image store (a layer's, for the builder's
// --cache-from).
func (e *Engine) OpenBlob(ctx context.Context, digest string) (io.ReadCloser, error) {
	return e.images.OpenBlob(ctx, digest)
}

// CachedImage finds the newest image built from parent with the build
// cache key key (imagestore.Store.Cached); errdefs.ErrNotFound if none.
func (e *Engine) CachedImage(ctx context.Context, parent, key string) (*Image, error) {
	return e.images.Cached(ctx, parent, key)
}

// ImageMount is an image's root file system mounted read-write over a
// fresh directory of changes, for the builder to change without a
// container (COPY, ADD, WORKDIR) and make an image of. It is used by one
// goroutine.
type ImageMount struct {
	// Root is the root file system to change (paths in it resolve as in
	// the container: an absolute symlink is relative to Root).
	Root string

	e       *Engine
	dir     string // scratch: merged, upper, work
	parent  string
	mounted bool
}

// MountImage mounts the image id (imagestore.Store.Mount) over a new
// directory of changes in the engine's scratch directory; "" mounts
// nothing: Root is an empty directory (FROM scratch).
func (e *Engine) MountImage(ctx context.Context, id string) (*ImageMount, error) {
	dir, err := os.MkdirTemp(e.ScratchDir(), "build-")
	if err != nil {
		return nil, errdefs.Unavailable("mount for a build step: %w", err)
	}
	m := &ImageMount{e: e, dir: dir, parent: id, Root: filepath.Join(dir, "upper")}
	if id == "" {
		if err := os.Mkdir(m.Root, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, errdefs.Unavailable("mount for a build step: %w", err)
		}
		return m, nil
	}
	img, err := e.images.Get(ctx, id)
	if err == nil {
		m.Root = filepath.Join(dir, "merged")
		err = e.images.Mount(ctx, img, m.Root, dir)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	m.mounted = true
	return m, nil
}

// Commit unmounts the root and makes an image of its changes: spec.Parent
// is the mounted image and spec.Dir its changes. The mount is released
// whatever happens.
func (m *ImageMount) Commit(ctx context.Context, spec ImageSpec) (*Image, error) {
	defer m.Release()
	if err := m.unmount(); err != nil {
		return nil, err
	}
	spec.Parent = m.parent
	spec.Dir = filepath.Join(m.dir, "upper")
	return m.e.CreateImage(ctx, spec)
}

// Release unmounts the root and removes the changes. Releasing twice is
// not an error.
func (m *ImageMount) Release() error {
	if m.dir == "" {
		return nil
	}
	err := m.unmount()
	if err == nil {
		err = os.RemoveAll(m.dir)
		m.dir = ""
	}
	return err
}

func (m *ImageMount) unmount() error {
	if !m.mounted {
		return nil
	}
	if err := imagestore.Unmount(m.Root); err != nil {
		return err
	}
	m.mounted = false
	return nil
}

// stubsFile lists, in a container's directory, its mount points and
// their parents, relative to its root: what a commit of its changes
// leaves out (a file, always; a directory when nothing under it is kept).
// Nothing the container writes lands there in its changes (the mounts
// shadow them), but the runtime makes the mount points that the image
// lacks, and the files it makes copy their parents (/etc for /etc/hosts)
// up: docker keeps all of that in an init layer below the changes.
const stubsFile = "stubs.json"

// recordStubs writes stubsFile for a container about to start.
func recordStubs(dir string, dests []string) error {
	seen := map[string]bool{}
	var stubs []string
	for _, d := range dests {
		for p := strings.Trim(filepath.Clean(d), "/"); p != "" && p != "." && !seen[p]; p = filepath.Dir(p) {
			seen[p] = true
			stubs = append(stubs, p)
		}
	}
	data, err := json.Marshal(stubs)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stubsFile), data, 0o600)
}

// readStubs reads stubsFile; none is no stub.
func readStubs(dir string) []string {
	var stubs []string
	if data, err := os.ReadFile(filepath.Join(dir, stubsFile)); err == nil {
		_ = json.Unmarshal(data, &stubs)
	}
	return stubs
}

// mountDestinations lists the destinations of spec's mounts.
func mountDestinations(spec *specs.Spec) []string {
	out := make([]string, 0, len(spec.Mounts))
	for _, m := range spec.Mounts {
		out = append(out, m.Destination)
	}
	return out
}
