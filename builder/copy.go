package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/enginefs/enginefs/builder/buildctx"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
)

// copyStep is COPY: files of the context, of a previous stage or of an
// image (--from) into the image, with --chown and --chmod.
func (st *stage) copyStep(ctx context.Context, c *instructions.CopyCommand) error {
	return st.copyFiles(ctx, copyJob{name: "COPY", sd: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod})
}

// addStep is ADD: COPY from the context, plus URLs the daemon downloads
// (--checksum checks them) and local tar archives extracted.
func (st *stage) addStep(ctx context.Context, c *instructions.AddCommand) error {
	return st.copyFiles(ctx, copyJob{name: "ADD", sd: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod, add: true, checksum: c.Checksum})
}

// copyJob is a COPY or ADD as written (its words expanded).
type copyJob struct {
	name         string // COPY or ADD
	sd           instructions.SourcesAndDest
	from         string
	chown, chmod string
	add          bool
	checksum     string
}

// copyFiles runs a COPY or ADD: it finds the sources and their digests
// (what the cache compares), then copies them into a mount of the stage's
// image and makes the next image of the changes.
func (st *stage) copyFiles(ctx context.Context, j copyJob) error {
	var chmod *os.FileMode
	if j.chmod != "" {
		m, err := buildctx.ParseChmod(j.chmod)
		if err != nil {
			return err
		}
		chmod = &m
	}
	srcs, release, err := st.sources(ctx, j)
	if err != nil {
		return err
	}
	defer release()
	if len(srcs.list) == 0 {
		return errdefs.Invalid("%s failed: no source files were specified", j.name)
	}
	dest := absPath(st.run.WorkingDir, j.sd.DestPath)
	multiple := len(srcs.list) > 1
	if err := buildctx.CheckDest(j.name, len(srcs.list), dest); err != nil {
		return err
	}
	flags := ""
	if j.chown != "" {
		flags += "--chown=" + j.chown + " "
	}
	if j.chmod != "" {
		flags += "--chmod=" + j.chmod + " "
	}
	s := st.nopStep(fmt.Sprintf("%s %s%s in %s ", j.name, flags, buildctx.SourcesHash(srcs.list), j.sd.DestPath), true)
	return st.mountStep(ctx, s, func(root string) error {
		opt := buildctx.CopyOptions{Chmod: chmod, Extract: j.add, Multiple: multiple, PreserveOwner: srcs.image && j.chown == "", Cmd: j.name}
		if j.chown != "" {
			var err error
			if opt.UID, opt.GID, err = buildctx.ResolveChown(root, j.chown); err != nil {
				return err
			}
		}
		for _, g := range srcs.groups {
			o := opt
			o.Extract = opt.Extract && g.local // downloads are never extracted
			if err := buildctx.Copy(ctx, root, g.root, g.srcs, dest, o); err != nil {
				return err
			}
		}
		return nil
	})
}

// sourceSet are the sources of a COPY or ADD, in the order written, in
// groups by the directory they are read from.
type sourceSet struct {
	list   []buildctx.Source
	groups []sourceGroup
	image  bool // read from an image or stage (--from): owners are kept
}

type sourceGroup struct {
	root  string
	srcs  []buildctx.Source
	local bool // from the context (ADD extracts archives from there only)
}

// sources finds the sources of j: in the context, in --from's stage or
// image, downloaded (ADD's URLs) or written (heredocs). release frees
// what it mounted or wrote.
func (st *stage) sources(ctx context.Context, j copyJob) (*sourceSet, func(), error) {
	set := &sourceSet{}
	var cleanups []func()
	release := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	fail := func(err error) (*sourceSet, func(), error) {
		release()
		return nil, nil, err
	}
	add := func(root string, local bool, srcs []buildctx.Source) {
		set.list = append(set.list, srcs...)
		set.groups = append(set.groups, sourceGroup{root: root, srcs: srcs, local: local})
	}
	if j.checksum != "" {
		for _, p := range j.sd.SourcePaths {
			if !isURL(p) {
				return fail(errdefs.Invalid("checksum can't be specified for non-HTTP(S) sources"))
			}
		}
	}
	if j.from != "" {
		m, err := st.fromMount(ctx, j.from)
		if err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, func() { m.Release() })
		srcs, err := buildctx.RootSources(m.Root, j.name, j.sd.SourcePaths)
		if err != nil {
			return fail(err)
		}
		set.image = true
		add(m.Root, false, srcs)
	} else {
		var local []string
		for _, p := range j.sd.SourcePaths {
			if !isURL(p) {
				local = append(local, p)
				continue
			}
			if !j.add {
				return fail(errdefs.Invalid("%s failed: source can't be a URL for COPY", j.name))
			}
			dir, err := os.MkdirTemp(st.bd.bl.scratch, "download-")
			if err != nil {
				return fail(errdefs.Unavailable("ADD %s: %w", p, err))
			}
			cleanups = append(cleanups, func() { os.RemoveAll(dir) })
			file, hash, err := buildctx.Fetch(ctx, st.bd.bl.client, p, dir)
			if err != nil {
				return fail(fmt.Errorf("ADD failed: %w", err))
			}
			if filepath.Base(file) == buildctx.UnnamedFile && strings.HasSuffix(j.sd.DestPath, "/") {
				return fail(errdefs.Invalid("cannot determine filename for source %s", p))
			}
			if j.checksum != "" && j.checksum != "sha256:"+hash {
				return fail(errdefs.Invalid("ADD %s: checksum mismatch: the content has sha256:%s, not %s", p, hash, j.checksum))
			}
			add(dir, false, []buildctx.Source{{Rel: filepath.Base(file), Hash: hash}})
		}
		if len(local) > 0 {
			srcs, err := st.bd.bctx.Sources(j.name, local)
			if err != nil {
				return fail(err)
			}
			add(st.bd.bctx.Dir(), true, srcs)
		}
	}
	if len(j.sd.SourceContents) > 0 {
		dir, err := os.MkdirTemp(st.bd.bl.scratch, "heredoc-")
		if err != nil {
			return fail(errdefs.Unavailable("%s: %w", j.name, err))
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		var names []string
		for _, c := range j.sd.SourceContents {
			name := filepath.Base(filepath.Clean("/" + c.Path))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(c.Data), 0o644); err != nil {
				return fail(errdefs.Unavailable("%s: %w", j.name, err))
			}
			names = append(names, name)
		}
		srcs, err := buildctx.RootSources(dir, j.name, names)
		if err != nil {
			return fail(err)
		}
		add(dir, false, srcs)
	}
	return set, release, nil
}

// fromMount mounts the root file system of COPY --from's stage (by name
// or index) or image (pulled if missing).
func (st *stage) fromMount(ctx context.Context, from string) (*engine.ImageMount, error) {
	if strings.EqualFold(from, st.name) && st.name != "" {
		return nil, errdefs.Invalid("invalid from flag value %s: refers to current build stage", from)
	}
	id := ""
	if prev, ok := st.bd.stageByName(from); ok {
		id = prev.imageID
	} else {
		img, err := st.bd.baseImage(ctx, from, st.bd.opts.Platform)
		if err != nil {
			return nil, fmt.Errorf("invalid from flag value %s: %w", from, err)
		}
		id = img.ID
	}
	return st.bd.b.MountImage(ctx, id)
}

// isURL reports whether an ADD source is a URL the daemon downloads.
func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}
