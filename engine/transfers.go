package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// Transfers (pulls and pushes) run in the background as numbered jobs of
// the engine, one numbering per kind, so that a client can follow one's
// progress from another connection and a pull goes on when the client
// that asked for it goes away. A finished transfer stays for
// keepTransfers, at most maxTransfers of them per kind.
const (
	keepTransfers = 10 * time.Minute
	maxTransfers  = 32
)

// The kinds of transfer.
const (
	TransferPull = "pull"
	TransferPush = "push"
)

// TransferRequest is what a transfer fetches or sends.
type TransferRequest struct {
	Ref      string
	Platform *v1.Platform      // pull: the platform of a manifest list (nil: the host's)
	Auth     *authn.AuthConfig // this job's credentials (nil: the daemon's)
}

// Transfer is one pull or push. It is safe for concurrent use.
type Transfer struct {
	N    string // its number among those of its kind
	Kind string // TransferPull or TransferPush

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when progress grows or the job ends
	progress []byte        // docker's JSON progress messages, one per line
	status   string
	reply    string
	err      error
	done     bool
	finished time.Time
	cancel   context.CancelFunc // set when the transfer starts
}

// transfers are the jobs of one kind.
type transfers struct {
	mu   sync.Mutex
	next int
	all  map[string]*Transfer
}

func newTransfers() map[string]*transfers {
	return map[string]*transfers{
		TransferPull: {all: map[string]*Transfer{}},
		TransferPush: {all: map[string]*Transfer{}},
	}
}

func (e *Engine) transfersOf(kind string) (*transfers, error) {
	ts := e.xfers[kind]
	if ts == nil {
		return nil, errdefs.Invalid("no transfer kind %q", kind)
	}
	return ts, nil
}

// NewTransfer reserves a transfer of kind with the next number; it shows
// with status "new" until StartTransfer runs it, and DropTransfer removes
// one that never started.
func (e *Engine) NewTransfer(kind string) (*Transfer, error) {
	ts, err := e.transfersOf(kind)
	if err != nil {
		return nil, err
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.gc()
	ts.next++
	tr := &Transfer{N: strconv.Itoa(ts.next), Kind: kind, changed: make(chan struct{}), status: "new"}
	ts.all[tr.N] = tr
	return tr, nil
}

// DropTransfer forgets tr if it never started.
func (e *Engine) DropTransfer(tr *Transfer) {
	ts, err := e.transfersOf(tr.Kind)
	if err != nil {
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	tr.mu.Lock()
	started := tr.cancel != nil
	tr.mu.Unlock()
	if !started {
		delete(ts.all, tr.N)
	}
}

// Transfers returns the transfers of kind, by number.
func (e *Engine) Transfers(kind string) ([]*Transfer, error) {
	ts, err := e.transfersOf(kind)
	if err != nil {
		return nil, err
	}
	ts.mu.Lock()
	out := make([]*Transfer, 0, len(ts.all))
	for _, tr := range ts.all {
		out = append(out, tr)
	}
	ts.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i].N)
		b, _ := strconv.Atoi(out[j].N)
		return a < b
	})
	return out, nil
}

// TransferByNumber finds the transfer n of kind.
func (e *Engine) TransferByNumber(kind, n string) (*Transfer, error) {
	ts, err := e.transfersOf(kind)
	if err != nil {
		return nil, err
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if tr, ok := ts.all[n]; ok {
		return tr, nil
	}
	return nil, errdefs.NotFound("no such %s job: %s", kind, n)
}

// gc drops finished transfers older than keepTransfers, and the oldest
// finished ones beyond maxTransfers. ts.mu is held.
func (ts *transfers) gc() {
	var finished []*Transfer
	for n, tr := range ts.all {
		tr.mu.Lock()
		done, at := tr.done, tr.finished
		tr.mu.Unlock()
		if done && time.Since(at) > keepTransfers {
			delete(ts.all, n)
		} else if done {
			finished = append(finished, tr)
		}
	}
	sort.Slice(finished, func(a, b int) bool { return finished[a].finished.Before(finished[b].finished) })
	for len(finished) > maxTransfers {
		delete(ts.all, finished[0].N)
		finished = finished[1:]
	}
}

// StartTransfer runs tr in the background; it ends with the transfer or
// the engine, not with ctx (Transfer.Cancel stops it). A transfer runs once: a second
// start is an errdefs.ErrBusy error.
func (e *Engine) StartTransfer(ctx context.Context, tr *Transfer, req TransferRequest) error {
	tr.mu.Lock()
	if tr.cancel != nil {
		tr.mu.Unlock()
		return errdefs.Busy("%s job %s has run already", tr.Kind, tr.N)
	}
	if err := e.closed(); err != nil {
		tr.mu.Unlock()
		return err
	}
	// The transfer lives as long as the engine: Close cancels it and
	// waits for its end, so nothing writes to the store after it.
	jctx, cancel := context.WithCancel(e.ctx)
	tr.cancel, tr.status = cancel, "running "+req.Ref
	tr.mu.Unlock()
	e.running.Add(1)
	go func() {
		defer e.running.Done()
		defer cancel()
		var reply, status string
		var err error
		if tr.Kind == TransferPull {
			var res *imagestore.PullResult
			res, err = e.PullImage(jctx, req.Ref, imagestore.PullOptions{Platform: req.Platform, Progress: tr.emit, Auth: req.Auth})
			if err == nil {
				state := "Downloaded newer image for " + res.Ref
				if res.UpToDate {
					state = "Image is up to date for " + res.Ref
				}
				reply = "Digest: " + res.Digest + "\nStatus: " + state
				status = fmt.Sprintf("done %s digest=%s id=%s", req.Ref, res.Digest, res.Image.ID)
			}
		} else {
			var digest string
			digest, err = e.PushImage(jctx, req.Ref, imagestore.PushOptions{Progress: tr.emit, Auth: req.Auth})
			if err == nil {
				reply = "digest: " + digest
				status = fmt.Sprintf("done %s digest=%s", req.Ref, digest)
			}
		}
		if err != nil {
			status = fmt.Sprintf("failed %s: %s", req.Ref, err)
		}
		tr.mu.Lock()
		tr.done, tr.finished, tr.reply, tr.err, tr.status = true, time.Now(), reply, err, status
		close(tr.changed)
		tr.changed = make(chan struct{})
		tr.mu.Unlock()
	}()
	return nil
}

// emit appends a progress message.
func (tr *Transfer) emit(p imagestore.Progress) {
	b, err := json.Marshal(p)
	if err != nil {
		return
	}
	tr.mu.Lock()
	tr.progress = append(append(tr.progress, b...), '\n')
	close(tr.changed)
	tr.changed = make(chan struct{})
	tr.mu.Unlock()
}

// Wait blocks until the transfer ends and returns its reply (docker's last
// status lines) and error; if ctx ends first the transfer goes on and the
// error is errdefs.ErrUnavailable.
func (tr *Transfer) Wait(ctx context.Context) (string, error) {
	for {
		tr.mu.Lock()
		done, ch, reply, err := tr.done, tr.changed, tr.reply, tr.err
		tr.mu.Unlock()
		if done {
			return reply, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", errdefs.Unavailable("stopped waiting for %s job %s (it goes on): %w", tr.Kind, tr.N, ctx.Err())
		}
	}
}

// Cancel stops a running transfer; one that is not running is an
// errdefs.ErrBusy error.
func (tr *Transfer) Cancel() error {
	tr.mu.Lock()
	cancel, done := tr.cancel, tr.done
	tr.mu.Unlock()
	if cancel == nil || done {
		return errdefs.Busy("%s job %s is not running", tr.Kind, tr.N)
	}
	cancel()
	return nil
}

// Status returns new | running REF | done REF digest=... [id=...] |
// failed REF: message.
func (tr *Transfer) Status() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.status
}

// Err returns the error the transfer ended with, if any.
func (tr *Transfer) Err() error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.err
}

// Progress returns the progress from byte off on, whether the transfer
// has ended, and a channel closed when either changes.
func (tr *Transfer) Progress(off int) (data []byte, done bool, changed <-chan struct{}) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if off < len(tr.progress) {
		data = tr.progress[off:]
	}
	return data, tr.done, tr.changed
}
