package tree

import (
	"context"
	"io"
	"os"

	"github.com/docker/docker/api/types/registry"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
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
// images/ctl's pull and push make a job too. The engine keeps and runs
// the jobs (engine.Transfer); this file only shows them.

// transferAuth reads the auth= credentials of a pull or push: docker's
// X-Registry-Auth encoding. The error never shows them.
func transferAuth(verb, enc string) (*authn.AuthConfig, error) {
	if enc == "" {
		return nil, nil
	}
	ac, err := registry.DecodeAuthConfig(enc)
	if err != nil {
		return nil, errdefs.Invalid("%s: auth= is not docker's X-Registry-Auth encoding (base64url of an AuthConfig JSON object)", verb)
	}
	return &authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}, nil
}

// jobs are the transfers of one kind, as the tree shows them; the engine
// keeps and runs them.
type jobs struct {
	t    *tree
	kind string // "pulls" or "pushes"
	verb string // engine.TransferPull or engine.TransferPush
}

func newJobs(t *tree, kind string) *jobs {
	verb := engine.TransferPull
	if kind == "pushes" {
		verb = engine.TransferPush
	}
	return &jobs{t: t, kind: kind, verb: verb}
}

// add makes a new job.
func (js *jobs) add() (*engine.Transfer, error) { return js.t.e.NewTransfer(js.verb) }

// start parses line (a write on the job's clone), starts the job tr with
// it and waits for its end (or ctx's); the transfer goes on if ctx ends
// first.
func (js *jobs) start(ctx context.Context, tr *engine.Transfer, line string) (string, error) {
	v, err := verbs.Transfers.Parse(line)
	if err != nil {
		return "", err
	}
	return js.startVerb(ctx, tr, v)
}

// startVerb starts the job tr with v, an ImagePull or an ImagePush.
func (js *jobs) startVerb(ctx context.Context, tr *engine.Transfer, v verbs.Verb) (string, error) {
	if v.Verb() != js.verb {
		return "", &ctl.Error{Msg: "unknown command", Word: v.Verb(), Usage: "images/" + js.kind + " jobs take " + js.verb}
	}
	var req engine.TransferRequest
	var auth string
	switch v := v.(type) {
	case verbs.ImagePull:
		req.Ref, auth = v.Ref, v.Auth
		if p := v.Platform; p != "" {
			pl, err := v1.ParsePlatform(p)
			if err != nil || pl.OS == "" || pl.Architecture == "" {
				return "", &ctl.Error{Verb: v.Verb(), Msg: "bad platform, want OS/ARCH[/VARIANT]", Word: "platform=" + p}
			}
			req.Platform = pl
		}
	case verbs.ImagePush:
		req.Ref, auth = v.Ref, v.Auth
	}
	var err error
	if req.Auth, err = transferAuth(v.Verb(), auth); err != nil {
		return "", err
	}
	if err := js.t.e.StartTransfer(ctx, tr, req); err != nil {
		return "", err
	}
	return tr.Wait(ctx)
}

// run makes a job for v, as images/ctl's pull and push do.
func (js *jobs) run(ctx context.Context, v verbs.Verb) (string, error) {
	tr, err := js.add()
	if err != nil {
		return "", err
	}
	reply, err := js.startVerb(ctx, tr, v)
	if err != nil {
		js.t.e.DropTransfer(tr) // kept if it started
	}
	return reply, err
}

// dir is images/pulls or images/pushes.
func (js *jobs) dir() fs.Dir {
	static := fs.StaticDir{{Name: "clone", Node: jobClone{js}}}
	return &fs.DirFunc{
		List: func(ctx context.Context) ([]fs.DirEntry, error) {
			ents, _ := static.ReadDir(ctx)
			all, err := js.t.e.Transfers(js.verb)
			if err != nil {
				return nil, err
			}
			for _, tr := range all {
				ents = append(ents, fs.DirEntry{Name: tr.N, Mode: os.ModeDir})
			}
			return ents, nil
		},
		Get: func(ctx context.Context, name string) (fs.Node, error) {
			if n, err := static.Lookup(ctx, name); err == nil {
				return n, nil
			}
			tr, err := js.t.e.TransferByNumber(js.verb, name)
			if err != nil {
				return nil, err
			}
			return js.jobDir(tr), nil
		},
	}
}

// jobDir is the directory of one job. Its err holds the error of a ctl
// write there, else the job's own.
func (js *jobs) jobDir(tr *engine.Transfer) fs.Dir {
	slot := js.t.slot("images/" + js.kind + "/" + tr.N)
	return fs.StaticDir{
		{Name: "ctl", Node: &fs.CtlFile{Errors: slot, Exec: func(ctx context.Context, line string) (string, error) {
			if _, err := verbs.Transfer.Parse(line); err != nil {
				return "", err
			}
			return "", tr.Cancel()
		}}},
		{Name: "err", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			if msg := slot.String(); msg != "" {
				return []byte(msg), nil
			}
			if err := tr.Err(); err != nil {
				return []byte(err.Error() + "\n"), nil
			}
			return nil, nil
		})},
		{Name: "status", Node: fs.ReadFile(func(context.Context) ([]byte, error) {
			return []byte(tr.Status() + "\n"), nil
		})},
		{Name: "progress", Node: fs.StreamFile(func(context.Context) (fs.Stream, error) {
			return &progressStream{job: tr}, nil
		})},
	}
}

// progressor is a job that keeps its progress messages: a transfer or a
// build. Progress returns what is there from off on, whether the job has
// ended, and a channel closed when there is more.
type progressor interface {
	Progress(off int) ([]byte, bool, <-chan struct{})
}

// progressStream reads a job's progress from the start to the job's end.
type progressStream struct {
	job progressor
	off int
}

func (s *progressStream) Next(ctx context.Context) ([]byte, error) {
	for {
		data, done, ch := s.job.Progress(s.off)
		if len(data) > 0 {
			s.off += len(data)
			return data, nil
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
	tr, err := c.js.add()
	if err != nil {
		return nil, err
	}
	slot := c.js.t.slot("images/" + c.js.kind + "/" + tr.N)
	h, err := (&fs.CtlFile{Errors: slot, Exec: func(ctx context.Context, line string) (string, error) {
		return c.js.start(ctx, tr, line)
	}}).Open(ctx, flag)
	if err != nil {
		c.js.t.e.DropTransfer(tr)
		return nil, err
	}
	return &cloneHandle{ctl: h, id: []byte(tr.N + "\n"), release: func() { c.js.t.e.DropTransfer(tr) }}, nil
}
