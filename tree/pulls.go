package tree

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/registry"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/imagestore"
)

// Transfers (pulls and pushes) run as numbered jobs, each a directory of
// images/pulls or images/pushes:
//
//	clone      open, read: a new job number n; write `pull REF [platform=OS/ARCH]
//	           [auth=CREDENTIALS]` (or `push REF [auth=CREDENTIALS]`) on the same
//	           file: it blocks until the job ends and then reads its last status
//	           lines, or fails with the job's error. CREDENTIALS are docker's
//	           X-Registry-Auth (base64url of its AuthConfig JSON), used for this
//	           job only, instead of the daemon's credentials file; they are
//	           neither kept nor shown
//	<n>/progress  docker's JSON progress messages, one per line, from the start;
//	           a read blocks for more (like tail -f) and ends at the job's end
//	<n>/status    new | running REF | done REF digest=sha256:... | failed REF: message
//	<n>/ctl       cancel
//	<n>/err
//
// images/ctl's pull and push make a job too. A finished job stays listed
// for keepJobs, at most maxJobs of them.

const (
	keepJobs = 10 * time.Minute
	maxJobs  = 32
)

var transferGrammar = ctl.Grammar{
	{Name: "pull", MinArgs: 1, MaxArgs: 1, Keys: []string{"platform", "auth"}, Usage: "pull REF [platform=OS/ARCH[/VARIANT]] [auth=CREDENTIALS]"},
	{Name: "push", MinArgs: 1, MaxArgs: 1, Keys: []string{"auth"}, Usage: "push REF [auth=CREDENTIALS]"},
}

// transferAuth reads the auth= credentials of a pull or push: docker's
// X-Registry-Auth encoding. The error never shows them.
func transferAuth(cmd ctl.Command) (*authn.AuthConfig, error) {
	enc, ok := cmd.Get("auth")
	if !ok || enc == "" {
		return nil, nil
	}
	ac, err := registry.DecodeAuthConfig(enc)
	if err != nil {
		return nil, errdefs.Invalid("%s: auth= is not docker's X-Registry-Auth encoding (base64url of an AuthConfig JSON object)", cmd.Verb)
	}
	return &authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}, nil
}

var jobGrammar = ctl.Grammar{{Name: "cancel", Usage: "cancel"}}

// jobs are the transfers of one kind.
type jobs struct {
	t    *tree
	kind string // "pulls" or "pushes"

	mu   sync.Mutex
	next int
	all  map[string]*job
}

// job is one transfer.
type job struct {
	n string

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when progress grows or the job ends
	progress []byte
	status   string
	reply    string
	err      error
	started  bool
	done     bool
	finished time.Time
	cancel   context.CancelFunc
}

func newJobs(t *tree, kind string) *jobs {
	return &jobs{t: t, kind: kind, all: map[string]*job{}}
}

// add makes a new job.
func (js *jobs) add() *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.gc()
	js.next++
	j := &job{n: strconv.Itoa(js.next), changed: make(chan struct{}), status: "new"}
	js.all[j.n] = j
	return j
}

// remove drops a job that never started.
func (js *jobs) remove(j *job) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j.mu.Lock()
	started := j.started
	j.mu.Unlock()
	if !started {
		delete(js.all, j.n)
	}
}

// gc drops finished jobs older than keepJobs, and the oldest finished ones
// beyond maxJobs. js.mu is held.
func (js *jobs) gc() {
	var finished []*job
	for n, j := range js.all {
		j.mu.Lock()
		done, at := j.done, j.finished
		j.mu.Unlock()
		if done && time.Since(at) > keepJobs {
			delete(js.all, n)
		} else if done {
			finished = append(finished, j)
		}
	}
	sort.Slice(finished, func(a, b int) bool { return finished[a].finished.Before(finished[b].finished) })
	for len(finished) > maxJobs {
		delete(js.all, finished[0].n)
		finished = finished[1:]
	}
}

func (js *jobs) get(n string) (*job, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if j, ok := js.all[n]; ok {
		return j, nil
	}
	return nil, errdefs.NotFound("no such %s job: %s", strings.TrimSuffix(strings.TrimSuffix(js.kind, "es"), "s"), n)
}

// emit appends a progress message.
func (j *job) emit(p imagestore.Progress) {
	b, err := json.Marshal(p)
	if err != nil {
		return
	}
	j.mu.Lock()
	j.progress = append(append(j.progress, b...), '\n')
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
}

// run parses line and runs the transfer in the background, then waits
// for its end (or ctx's); the transfer goes on if ctx ends first.
func (js *jobs) run(ctx context.Context, j *job, line string) (string, error) {
	cmd, err := transferGrammar.Parse(line)
	if err != nil {
		return "", err
	}
	want := strings.TrimSuffix(js.kind, "s")
	if js.kind == "pushes" {
		want = "push"
	}
	if cmd.Verb != want {
		return "", &ctl.Error{Msg: "unknown command", Word: cmd.Verb, Usage: "images/" + js.kind + " jobs take " + want}
	}
	ref := cmd.Args[0]
	var platform *v1.Platform
	if p, ok := cmd.Get("platform"); ok {
		pl, err := v1.ParsePlatform(p)
		if err != nil || pl.OS == "" || pl.Architecture == "" {
			return "", &ctl.Error{Verb: cmd.Verb, Msg: "bad platform, want OS/ARCH[/VARIANT]", Word: "platform=" + p}
		}
		platform = pl
	}
	auth, err := transferAuth(cmd)
	if err != nil {
		return "", err
	}
	j.mu.Lock()
	if j.started {
		j.mu.Unlock()
		return "", errdefs.Busy("%s job %s has run already", want, j.n)
	}
	jctx, cancel := context.WithCancel(context.Background())
	j.started, j.cancel, j.status = true, cancel, "running "+ref
	j.mu.Unlock()
	e := js.t.e
	go func() {
		defer cancel()
		var reply, status string
		var err error
		if want == "pull" {
			var res *imagestore.PullResult
			res, err = e.PullImage(jctx, ref, imagestore.PullOptions{Platform: platform, Progress: j.emit, Auth: auth})
			if err == nil {
				state := "Downloaded newer image for " + res.Ref
				if res.UpToDate {
					state = "Image is up to date for " + res.Ref
				}
				reply = "Digest: " + res.Digest + "\nStatus: " + state
				status = fmt.Sprintf("done %s digest=%s id=%s", ref, res.Digest, res.Image.ID)
			}
		} else {
			var digest string
			digest, err = e.PushImage(jctx, ref, imagestore.PushOptions{Progress: j.emit, Auth: auth})
			if err == nil {
				reply = "digest: " + digest
				status = fmt.Sprintf("done %s digest=%s", ref, digest)
			}
		}
		if err != nil {
			status = fmt.Sprintf("failed %s: %s", ref, err)
			js.t.slot("images/" + js.kind + "/" + j.n).Set(err)
		}
		j.mu.Lock()
		j.done, j.finished, j.reply, j.err, j.status = true, time.Now(), reply, err, status
		close(j.changed)
		j.changed = make(chan struct{})
		j.mu.Unlock()
	}()
	return j.wait(ctx)
}

// wait blocks until the job ends and returns its reply and error.
func (j *job) wait(ctx context.Context) (string, error) {
	for {
		j.mu.Lock()
		done, ch, reply, err := j.done, j.changed, j.reply, j.err
		j.mu.Unlock()
		if done {
			return reply, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", errdefs.Unavailable("stopped waiting for job %s (it goes on): %w", j.n, ctx.Err())
		}
	}
}

// dir is images/pulls or images/pushes.
func (js *jobs) dir() fs.Dir {
	static := fs.StaticDir{{Name: "clone", Node: jobClone{js}}}
	return &fs.DirFunc{
		List: func(ctx context.Context) ([]fs.DirEntry, error) {
			ents, _ := static.ReadDir(ctx)
			js.mu.Lock()
			var ns []int
			for n := range js.all {
				i, _ := strconv.Atoi(n)
				ns = append(ns, i)
			}
			js.mu.Unlock()
			sort.Ints(ns)
			for _, n := range ns {
				ents = append(ents, fs.DirEntry{Name: strconv.Itoa(n), Mode: os.ModeDir})
			}
			return ents, nil
		},
		Get: func(ctx context.Context, name string) (fs.Node, error) {
			if n, err := static.Lookup(ctx, name); err == nil {
				return n, nil
			}
			j, err := js.get(name)
			if err != nil {
				return nil, err
			}
			return js.jobDir(j), nil
		},
	}
}

// jobDir is the directory of one job.
func (js *jobs) jobDir(j *job) fs.Dir {
	slot := js.t.slot("images/" + js.kind + "/" + j.n)
	return fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Errors: slot, Exec: func(ctx context.Context, line string) (string, error) {
			if _, err := jobGrammar.Parse(line); err != nil {
				return "", err
			}
			j.mu.Lock()
			cancel, done := j.cancel, j.done
			j.mu.Unlock()
			if cancel == nil || done {
				return "", errdefs.Busy("job %s is not running", j.n)
			}
			cancel()
			return "", nil
		}}},
		{Name: "err", Node: fs.ErrFile(slot)},
		{Name: "status", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			j.mu.Lock()
			defer j.mu.Unlock()
			return []byte(j.status + "\n"), nil
		})},
		{Name: "progress", Node: fs.StreamFile(func(context.Context) (fs.Stream, error) {
			return &progressStream{j: j}, nil
		})},
	}
}

// progressStream reads a job's progress from the start to the job's end.
type progressStream struct {
	j   *job
	off int
}

func (s *progressStream) Next(ctx context.Context) ([]byte, error) {
	for {
		s.j.mu.Lock()
		data, done, ch := s.j.progress, s.j.done, s.j.changed
		s.j.mu.Unlock()
		if s.off < len(data) {
			chunk := data[s.off:]
			s.off = len(data)
			return chunk, nil
		}
		if done {
			return nil, io.EOF
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *progressStream) Close() error { return nil }

// jobClone is images/pulls/clone (and pushes/clone): an open makes a job,
// a read returns its number, a write runs it.
type jobClone struct{ js *jobs }

func (jobClone) Attr(context.Context) (fs.Attr, error) { return fs.Attr{Mode: 0o644}, nil }

func (c jobClone) Open(ctx context.Context, flag int) (fs.Handle, error) {
	j := c.js.add()
	slot := c.js.t.slot("images/" + c.js.kind + "/" + j.n)
	h, err := (&fs.CtlFile{Errors: slot, Exec: func(ctx context.Context, line string) (string, error) {
		return c.js.run(ctx, j, line)
	}}).Open(ctx, flag)
	if err != nil {
		c.js.remove(j)
		return nil, err
	}
	return &cloneHandle{ctl: h, id: []byte(j.n + "\n"), release: func() { c.js.remove(j) }}, nil
}
