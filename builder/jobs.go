package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/enginefs/enginefs/builder/buildctx"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// A finished job stays for keepJobs, at most maxJobs of them.
// A job never started is forgotten after keepJobs too; at most
// maxLiveJobs are kept in all.
const (
	keepJobs    = 10 * time.Minute
	maxJobs     = 32
	maxLiveJobs = 128
)

// Builder runs builds as numbered jobs, so that a client can follow one
// from another connection: a client makes a job, sets its options, sends
// its context and starts it (Job). It is safe for concurrent use.
type Builder struct {
	b       Backend
	scratch string // where contexts and downloads are kept
	logf    func(format string, a ...any)
	client  *http.Client
	limits  buildctx.Limits

	root   context.Context // the daemon's lifetime: builds run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	next int
	jobs map[string]*Job
}

// Option changes a Builder made by New.
type Option func(*Builder)

// WithHTTPClient sets the client of ADD's downloads (default: a client
// with http.DefaultTransport's settings and no redirect limit change).
func WithHTTPClient(c *http.Client) Option { return func(b *Builder) { b.client = c } }

// WithLogger sets where the builder reports what no client hears
// (default log.Printf).
func WithLogger(logf func(format string, a ...any)) Option { return func(b *Builder) { b.logf = logf } }

// WithLimits caps what a client can make a build hold (default
// buildctx.DefaultMaxBytes and DefaultMaxEntries).
func WithLimits(l buildctx.Limits) Option { return func(b *Builder) { b.limits = l } }

// New returns a Builder of images through b, keeping its files in the
// directory scratch (emptied by the caller at start).
func New(b Backend, scratch string, opts ...Option) *Builder {
	bl := &Builder{b: b, scratch: scratch, client: &http.Client{}, limits: buildctx.Limits{MaxBytes: buildctx.DefaultMaxBytes, MaxEntries: buildctx.DefaultMaxEntries}, jobs: map[string]*Job{}, logf: log.Printf}
	for _, o := range opts {
		o(bl)
	}
	bl.root, bl.cancel = context.WithCancel(context.Background())
	return bl
}

// Close cancels the builds that run and waits for them to clean up.
func (bl *Builder) Close() {
	bl.cancel()
	bl.wg.Wait()
}

// Job is one build. It is safe for concurrent use.
type Job struct {
	N string // its number

	bl *Builder

	mu       sync.Mutex
	changed  chan struct{}  // closed and replaced when progress grows or the state changes
	opts     *Options       // set by Configure
	imp      *ImportOptions // set by ConfigureImport
	ctxFile  *os.File       // the context as it arrives
	state    jobState
	progress []byte // docker's JSON messages, one per line
	id       string // the image built
	err      error
	started  chan struct{} // closed once the build runs past its setup, or failed in it
	setupErr error
	cancel   context.CancelFunc
	made     time.Time // when NewJob made it
	finished time.Time
}

type jobState int

const (
	jobNew jobState = iota
	jobRunning
	jobDone
	jobFailed
)

// NewJob makes a job with the next number.
func (bl *Builder) NewJob() (*Job, error) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if bl.root.Err() != nil {
		return nil, errdefs.Unavailable("the builder is shutting down")
	}
	bl.gc()
	if len(bl.jobs) >= maxLiveJobs {
		return nil, errdefs.Unavailable("%d builds are kept already: wait for some to end", len(bl.jobs))
	}
	bl.next++
	j := &Job{N: strconv.Itoa(bl.next), bl: bl, changed: make(chan struct{}), started: make(chan struct{}), made: time.Now()}
	bl.jobs[j.N] = j
	return j, nil
}

// gc forgets jobs finished long ago or never started, and the oldest
// finished ones beyond maxJobs. bl.mu is held.
func (bl *Builder) gc() {
	var done []*Job
	for _, j := range bl.jobs {
		j.mu.Lock()
		fin, fresh := j.finished, j.state == jobNew
		j.mu.Unlock()
		if fresh && time.Since(j.made) > keepJobs {
			bl.forget(j)
			continue
		}
		if !fin.IsZero() {
			if time.Since(fin) > keepJobs {
				bl.forget(j)
				continue
			}
			done = append(done, j)
		}
	}
	sort.Slice(done, func(a, b int) bool { return done[a].finished.Before(done[b].finished) })
	for len(bl.jobs) >= maxJobs && len(done) > 0 {
		bl.forget(done[0])
		done = done[1:]
	}
}

func (bl *Builder) forget(j *Job) {
	delete(bl.jobs, j.N)
	j.mu.Lock()
	j.dropContext()
	j.mu.Unlock()
}

// Job returns the job numbered n.
func (bl *Builder) Job(n string) (*Job, error) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if j := bl.jobs[n]; j != nil {
		return j, nil
	}
	return nil, errdefs.NotFound("no build %s", n)
}

// Jobs returns the jobs, by number.
func (bl *Builder) Jobs() []*Job {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	out := make([]*Job, 0, len(bl.jobs))
	for _, j := range bl.jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool {
		x, _ := strconv.Atoi(out[a].N)
		y, _ := strconv.Atoi(out[b].N)
		return x < y
	})
	return out
}

// Drop forgets a job that never started (a client that gave up).
func (bl *Builder) Drop(j *Job) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	j.mu.Lock()
	fresh := j.state == jobNew
	j.mu.Unlock()
	if fresh {
		bl.forget(j)
	}
}

// Configure sets the job's options; only before it starts.
func (j *Job) Configure(opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	return j.set(func() { j.opts, j.imp = &opts, nil })
}

// set runs set under the job's lock if it has not started.
func (j *Job) set(set func()) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state != jobNew {
		return errdefs.Busy("build %s has started", j.N)
	}
	set()
	return nil
}

// WriteContext writes p at off of the context (a tar, maybe compressed),
// kept in a file of the builder's scratch directory; only before the
// build starts. The size is capped by the builder's limits.
func (j *Job) WriteContext(p []byte, off int64) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.state != jobNew {
		return 0, errdefs.Busy("build %s has started: its context is read", j.N)
	}
	if off+int64(len(p)) > j.bl.limits.MaxBytes {
		return 0, errdefs.Invalid("build context exceeds %d bytes", j.bl.limits.MaxBytes)
	}
	if j.ctxFile == nil {
		f, err := os.CreateTemp(j.bl.scratch, "context-*.tar")
		if err != nil {
			return 0, errdefs.Unavailable("build %s: keeping the context: %w", j.N, err)
		}
		j.ctxFile = f
	}
	n, err := j.ctxFile.WriteAt(p, off)
	if err != nil {
		return n, errdefs.Unavailable("build %s: keeping the context: %w", j.N, err)
	}
	return n, nil
}

// TruncateContext drops what was written of the context (size 0 only):
// the shell's `>`, or a client whose upload failed.
func (j *Job) TruncateContext(size int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if size != 0 {
		return errdefs.Invalid("build context: cannot truncate to %d bytes", size)
	}
	if j.state != jobNew {
		return errdefs.Busy("build %s has started", j.N)
	}
	j.dropContext()
	return nil
}

// dropContext removes the context file; j.mu is held.
func (j *Job) dropContext() {
	if j.ctxFile != nil {
		j.ctxFile.Close()
		os.Remove(j.ctxFile.Name())
		j.ctxFile = nil
	}
}

// Start runs the build in the background, with the options and the
// context given so far (none is an empty context). It returns once the
// build runs past its setup (context unpacked, Dockerfile parsed), or
// with the setup's error: a bad Dockerfile is errdefs.ErrInvalid naming
// its line. The build goes on if ctx ends after that.
func (j *Job) Start(ctx context.Context) error {
	j.mu.Lock()
	if j.state != jobNew {
		j.mu.Unlock()
		return errdefs.Busy("build %s has started", j.N)
	}
	opts := Options{}
	if j.opts != nil {
		opts = *j.opts
	}
	imp := j.imp
	bctx, cancel := context.WithCancel(j.bl.root)
	j.cancel = cancel
	j.state = jobRunning
	file := j.ctxFile
	j.ctxFile = nil
	j.bumpLocked()
	j.mu.Unlock()

	j.bl.wg.Add(1)
	go func() {
		defer j.bl.wg.Done()
		defer cancel()
		var id string
		var err error
		if imp != nil {
			id, err = j.runImport(bctx, *imp, file)
		} else {
			id, err = j.run(bctx, opts, file)
		}
		j.finish(id, err)
	}()
	select {
	case <-j.started:
		return j.setupErr
	case <-ctx.Done():
		return errdefs.Unavailable("build %s: %w", j.N, ctx.Err())
	}
}

// setupDone records the end of the build's setup; err is its failure.
func (j *Job) setupDone(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	select {
	case <-j.started:
	default:
		j.setupErr = err
		close(j.started)
	}
}

// finish records the end of the build.
func (j *Job) finish(id string, err error) {
	j.setupDone(err)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.id, j.err = id, err
	j.state = jobDone
	if err != nil {
		j.state = jobFailed
	}
	j.finished = time.Now()
	j.bumpLocked()
}

// Cancel stops a build that runs: its containers and the images it made
// are removed. A build that has not started is cancelled before it does.
func (j *Job) Cancel() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch j.state {
	case jobNew:
		j.dropContext()
		j.state, j.err, j.finished = jobFailed, errdefs.Unavailable("build cancelled"), time.Now()
		j.setupErr = j.err
		close(j.started)
		j.bumpLocked()
		return nil
	case jobRunning:
		j.cancel()
		return nil
	}
	return errdefs.Busy("build %s has ended", j.N)
}

// Status is one line: new | running | done sha256:<id> | failed: message.
func (j *Job) Status() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch j.state {
	case jobNew:
		return "new"
	case jobRunning:
		return "running"
	case jobDone:
		return "done " + j.id
	}
	return "failed: " + j.err.Error()
}

// Err is the error of a failed build.
func (j *Job) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Wait blocks until the build ends and returns the image id or the error.
func (j *Job) Wait(ctx context.Context) (string, error) {
	for {
		j.mu.Lock()
		st, ch, id, err := j.state, j.changed, j.id, j.err
		j.mu.Unlock()
		if st == jobDone || st == jobFailed {
			return id, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// Progress returns the messages from offset off, whether the build has
// ended, and a channel closed when there is more.
func (j *Job) Progress(off int) ([]byte, bool, <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var data []byte
	if off < len(j.progress) {
		data = j.progress[off:]
	}
	return data, j.state == jobDone || j.state == jobFailed, j.changed
}

// Write appends to the progress (the output's writer).
func (j *Job) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.progress = append(j.progress, p...)
	j.bumpLocked()
	return len(p), nil
}

// bumpLocked wakes the readers of the progress and state; j.mu is held.
func (j *Job) bumpLocked() {
	close(j.changed)
	j.changed = make(chan struct{})
}

// openContext returns the context file for reading, or an empty reader.
func openContext(f *os.File) (io.Reader, func(), error) {
	if f == nil {
		return eofReader{}, func() {}, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("build context: %w", err)
	}
	return f, func() { f.Close(); os.Remove(f.Name()) }, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

var errCancelled = errors.New("Build cancelled")

// Prune removes the build cache nothing needs (the images of builds that
// no tag, container or other image holds) and returns what went.
func (bl *Builder) Prune(ctx context.Context) (*imagestore.DeleteResult, error) {
	return bl.b.PruneBuildCache(ctx)
}
