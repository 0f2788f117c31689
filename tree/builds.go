package tree

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/docker/docker/api/types/registry"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/enginefs/enginefs/builder"
	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
)

// Builds (docker build, and docker import) run as numbered jobs of the
// builder, each a directory of /builds:
//
//	clone      open, read: a new job number n (kept until it ends or ten
//	           minutes pass); a write on the same file is a write to n/ctl
//	<n>/ctl    build [t=REF]... [file=PATH] [build-arg=K[=V]]... [target=STAGE]
//	           [label=K=V]... [no-cache=true] [pull=true] [cache-from=REF]...
//	           [q=true] [network=NAME] [memory=] [memory-swap=] [cpu-shares=]
//	           [cpu-period=] [cpu-quota=] [cpuset-cpus=] [shm-size=] [ulimit=N=S[:H]]...
//	           [platform=OS/ARCH] [auth=CREDENTIALS]
//	           | import [REF] [change=LINE]... [message=TEXT] [platform=OS/ARCH]
//	           | start | cancel
//	<n>/context  write the build context (a tar, maybe compressed; for
//	           import the root file system tar) before start; a truncate
//	           to 0 drops what was written
//	<n>/progress docker's JSON build messages, one per line, from the
//	           start; a read blocks for more (tail -f) and ends at the end
//	<n>/status new | running | done sha256:ID | failed: MESSAGE
//	<n>/err
//
// start returns once the build runs (context unpacked, Dockerfile parsed)
// or with its setup's error: a syntax error names its line. CREDENTIALS
// are docker's X-Registry-Config (base64url of its JSON map of registry
// to AuthConfig), used by this build's pulls only, never kept or shown.

// builds is /builds; its ctl prunes the build cache (the images of builds
// nothing needs), replying docker's "Deleted: ID" lines and the space
// reclaimed.
func (t *tree) builds() fs.Dir {
	slot := t.slot("builds")
	static := fs.StaticDir{
		{Name: "clone", Node: buildClone{t}},
		{Name: "ctl", Node: &fs.CtlFile{Errors: slot, Exec: func(ctx context.Context, line string) (string, error) {
			if _, err := verbs.Builds.Parse(line); err != nil { // prune [all=true]: the cache is all there is
				return "", err
			}
			res, err := t.b.Prune(ctx)
			if err != nil {
				return "", err
			}
			var b strings.Builder
			for _, id := range res.Deleted {
				b.WriteString("Deleted: " + id + "\n")
			}
			fmt.Fprintf(&b, "Total reclaimed space: %d\n", res.SpaceReclaimed)
			return b.String(), nil
		}}},
		{Name: "err", Node: fs.ErrFile(slot)},
	}
	return &fs.DirFunc{
		List: func(ctx context.Context) ([]fs.DirEntry, error) {
			ents, _ := static.ReadDir(ctx)
			for _, j := range t.b.Jobs() {
				ents = append(ents, fs.DirEntry{Name: j.N, Mode: os.ModeDir})
			}
			return ents, nil
		},
		Get: func(ctx context.Context, name string) (fs.Node, error) {
			if n, err := static.Lookup(ctx, name); err == nil {
				return n, nil
			}
			j, err := t.b.Job(name)
			if err != nil {
				return nil, err
			}
			return t.buildDir(j), nil
		},
	}
}

// buildCtl runs a line of a job's ctl.
func (t *tree) buildCtl(ctx context.Context, j *builder.Job, line string) (string, error) {
	v, err := verbs.BuildJob.Parse(line)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case verbs.Build:
		opts, err := buildOptions(v)
		if err != nil {
			return "", err
		}
		return "", j.Configure(opts)
	case verbs.Import:
		opts, err := importOptions(v)
		if err != nil {
			return "", err
		}
		return "", j.ConfigureImport(opts)
	case verbs.BuildStart:
		return "", j.Start(ctx)
	}
	return "", j.Cancel()
}

// buildDir is the directory of one job.
func (t *tree) buildDir(j *builder.Job) fs.Dir {
	slot := t.slot("builds/" + j.N)
	return fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Errors: slot, Exec: func(ctx context.Context, line string) (string, error) {
			return t.buildCtl(ctx, j, line)
		}}},
		{Name: "context", Node: contextFile{j: j, slot: slot}},
		{Name: "err", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			if msg := slot.String(); msg != "" {
				return []byte(msg), nil
			}
			if err := j.Err(); err != nil {
				return []byte(err.Error() + "\n"), nil
			}
			return nil, nil
		})},
		{Name: "status", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			return []byte(j.Status() + "\n"), nil
		})},
		{Name: "progress", Node: fs.StreamFile(func(context.Context) (fs.Stream, error) {
			return &progressStream{job: j}, nil
		})},
	}
}

// buildClone is /builds/clone: an open makes a job, a read returns its
// number, a write goes to its ctl. The job outlives the open file: a
// client goes on in builds/<n>.
type buildClone struct{ t *tree }

func (buildClone) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o644}, nil }

func (c buildClone) Open(ctx context.Context, flag int) (fs.Handle, error) {
	j, err := c.t.b.NewJob()
	if err != nil {
		return nil, err
	}
	h, err := (&fs.CtlFile{Errors: c.t.slot("builds/" + j.N), Exec: func(ctx context.Context, line string) (string, error) {
		return c.t.buildCtl(ctx, j, line)
	}}).Open(ctx, flag)
	if err != nil {
		c.t.b.Drop(j)
		return nil, err
	}
	return &cloneHandle{ctl: h, id: []byte(j.N + "\n")}, nil
}

// contextFile is <n>/context: what is written is the job's context.
type contextFile struct {
	j    *builder.Job
	slot *fs.ErrSlot
}

func (contextFile) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o222}, nil }

// Truncate implements fs.Truncater: the shell's `>` truncates to 0.
func (f contextFile) Truncate(_ context.Context, size int64) error { return f.j.TruncateContext(size) }

func (f contextFile) Open(context.Context, int) (fs.Handle, error) { return &contextHandle{f}, nil }

type contextHandle struct{ f contextFile }

func (h *contextHandle) WriteAt(_ context.Context, p []byte, off int64) (int, error) {
	n, err := h.f.j.WriteContext(p, off)
	if err != nil {
		h.f.slot.Set(err)
	}
	return n, err
}

func (h *contextHandle) ReadAt(context.Context, []byte, int64) (int, error) {
	return 0, errdefs.Invalid("the build context is written, not read")
}

// Truncate implements fs.Truncater on the open file.
func (h *contextHandle) Truncate(_ context.Context, size int64) error {
	return h.f.j.TruncateContext(size)
}

func (h *contextHandle) Close() error { return nil }

// buildOptions reads a build line.
func buildOptions(b verbs.Build) (builder.Options, error) {
	p := values{verb: b.Verb()}
	o := builder.Options{
		Tags:       b.Tags,
		Target:     b.Target,
		Dockerfile: b.File,
		CacheFrom:  b.CacheFrom,
		NoCache:    b.NoCache,
		Pull:       b.Pull,
		Quiet:      b.Quiet,
	}
	o.NetworkMode = b.Network
	o.Resources.Memory = p.size("memory", b.Memory)
	o.Resources.MemorySwap = p.size("memory-swap", b.MemorySwap)
	o.Resources.CPUShares = p.int("cpu-shares", b.CPUShares)
	o.Resources.CPUPeriod = p.int("cpu-period", b.CPUPeriod)
	o.Resources.CPUQuota = p.int("cpu-quota", b.CPUQuota)
	o.Resources.CpusetCpus = b.CpusetCPUs
	o.ShmSize = p.size("shm-size", b.ShmSize)
	for _, u := range b.Ulimit {
		o.Ulimits = append(o.Ulimits, p.ulimit(u))
	}
	for _, a := range b.BuildArg {
		if o.BuildArgs == nil {
			o.BuildArgs = map[string]*string{}
		}
		k, v, ok := strings.Cut(a, "=")
		if ok {
			o.BuildArgs[k] = &v
		} else {
			o.BuildArgs[k] = nil
		}
	}
	for _, l := range b.Label {
		k, v, _ := strings.Cut(l, "=")
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels[k] = v
	}
	if b.Platform != "" {
		var err error
		if o.Platform, err = parsePlatform(b, b.Platform); err != nil {
			return o, err
		}
	}
	if b.Auth != "" {
		auth, err := registryConfig(b.Auth)
		if err != nil {
			return o, err
		}
		o.Auth = auth
	}
	return o, p.err
}

// importOptions reads an import line.
func importOptions(i verbs.Import) (builder.ImportOptions, error) {
	o := builder.ImportOptions{Ref: i.Ref, Changes: i.Change, Message: i.Message}
	if i.Platform != "" {
		var err error
		if o.Platform, err = parsePlatform(i, i.Platform); err != nil {
			return o, err
		}
	}
	return o, nil
}

// parsePlatform reads the platform= of v, OS/ARCH[/VARIANT].
func parsePlatform(v verbs.Verb, s string) (*v1.Platform, error) {
	pl, err := v1.ParsePlatform(s)
	if err != nil || pl.OS == "" || pl.Architecture == "" {
		return nil, &ctl.Error{Verb: v.Verb(), Msg: "bad platform, want OS/ARCH[/VARIANT]", Word: "platform=" + s}
	}
	return pl, nil
}

// registryConfig reads docker's X-Registry-Config: base64url of a JSON
// map of registry to AuthConfig. The error never shows the credentials.
func registryConfig(enc string) (map[string]authn.AuthConfig, error) {
	data, err := base64.URLEncoding.DecodeString(enc)
	if err != nil {
		data, err = base64.RawURLEncoding.DecodeString(enc)
	}
	var m map[string]registry.AuthConfig
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		return nil, errdefs.Invalid("build: auth= is not docker's X-Registry-Config encoding (base64url of a JSON map of registry to AuthConfig)")
	}
	out := make(map[string]authn.AuthConfig, len(m))
	for k, ac := range m {
		out[k] = authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
			IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}
	}
	return out, nil
}
