package builder

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/enginefs/enginefs/builder/buildctx"
	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/imagestore"
)

// build is the run of one job.
type build struct {
	bl   *Builder
	b    Backend
	opts Options
	out  *output
	bctx *buildctx.Context
	plan *plan
	lex  *shell.Lex

	step     int
	stages   []*stage           // the stages built so far
	metaArgs map[string]*string // ARGs before the first FROM, with their values
	usedArgs map[string]bool    // build args some ARG declared
	created  []string           // images this build made, newest last
}

// run is the job's build: setup (context, Dockerfile), then the steps.
// It returns the image id, or the error, which it has also written to the
// progress; a failed build removes the images it made.
func (j *Job) run(ctx context.Context, opts Options, file *os.File) (string, error) {
	bd := &build{bl: j.bl, b: j.bl.b, opts: opts, out: &output{w: j, quiet: opts.Quiet},
		metaArgs: map[string]*string{}, usedArgs: map[string]bool{}}
	err := bd.setup(ctx, file)
	j.setupDone(err)
	var id string
	if err == nil {
		id, err = bd.steps(ctx)
	}
	if bd.bctx != nil {
		if rerr := bd.bctx.Remove(); rerr != nil {
			j.bl.logf("build %s: removing its context: %v", j.N, rerr)
		}
	}
	if err == nil {
		bd.out.result(id)
		return id, nil
	}
	if ctx.Err() != nil {
		bd.out.printf("Build cancelled\n")
		err = errdefs.Unavailable("%w", errCancelled)
	}
	bd.undo()
	var re *runError
	code := 0
	if errors.As(err, &re) {
		code = re.code
	}
	bd.out.fail(err.Error(), code)
	return "", err
}

// setup unpacks the context and parses the Dockerfile.
func (bd *build) setup(ctx context.Context, file *os.File) error {
	r, done, err := openContext(file)
	if err != nil {
		return err
	}
	defer done()
	dir, err := os.MkdirTemp(bd.bl.scratch, "context-")
	if err != nil {
		return errdefs.Unavailable("build context: %w", err)
	}
	if bd.bctx, err = buildctx.Extract(ctx, r, dir, bd.bl.limits); err != nil {
		os.RemoveAll(dir)
		return err
	}
	name := bd.opts.Dockerfile
	if name == "" {
		name = "Dockerfile"
	}
	root, err := os.OpenRoot(bd.bctx.Dir())
	if err != nil {
		return errdefs.Unavailable("build context: %w", err)
	}
	defer root.Close()
	df, err := root.Open(name)
	if errors.Is(err, os.ErrNotExist) && bd.opts.Dockerfile == "" {
		name = "dockerfile"
		df, err = root.Open(name)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errdefs.Invalid("Cannot locate specified Dockerfile: %s", firstOf(bd.opts.Dockerfile, "Dockerfile"))
		}
		return errdefs.Invalid("Dockerfile %s: %w", name, err)
	}
	defer df.Close()
	if bd.plan, err = parseDockerfile(df, name, bd.opts.Target, bd.opts.Labels); err != nil {
		return err
	}
	bd.lex = shell.NewLex(bd.plan.escape)
	if strings.HasPrefix(name, ".dockerfile.") {
		// A Dockerfile the client added from outside the context (the
		// docker CLI's name for one): not part of the context.
		if err := os.Remove(filepath.Join(bd.bctx.Dir(), name)); err != nil {
			return errdefs.Unavailable("build context: %w", err)
		}
	}
	return bd.bctx.RemoveIgnored(name)
}

// steps runs the plan and tags the result.
func (bd *build) steps(ctx context.Context) (string, error) {
	for _, a := range bd.plan.metaArgs {
		bd.step++
		bd.out.printf("Step %d/%d : %s\n", bd.step, bd.plan.total, a.String())
		if err := bd.metaArg(&a); err != nil {
			return "", err
		}
	}
	for i := range bd.plan.stages {
		s := &bd.plan.stages[i]
		st, err := bd.from(ctx, s, i)
		if err != nil {
			return "", err
		}
		for _, c := range s.Commands {
			if err := ctx.Err(); err != nil {
				return "", err
			}
			bd.step++
			bd.out.printf("Step %d/%d : %s\n", bd.step, bd.plan.total, commandText(c))
			if err := st.dispatch(ctx, c); err != nil {
				return "", err
			}
			bd.out.printf(" ---> %s\n", shortID(st.imageID))
		}
		bd.stages = append(bd.stages, st)
		if st.imageID != "" {
			bd.out.send(message{Aux: &aux{ID: st.imageID}})
		}
	}
	id := bd.stages[len(bd.stages)-1].imageID
	if id == "" {
		return "", errdefs.Invalid("No image was generated. Is your Dockerfile empty?")
	}
	var unused []string
	for k := range bd.opts.BuildArgs {
		if !bd.usedArgs[k] && !proxyArgs[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		slices.Sort(unused)
		bd.out.printf("[Warning] One or more build-args %v were not consumed\n", unused)
	}
	for _, t := range bd.opts.Tags {
		if err := bd.b.TagImage(ctx, id, t); err != nil {
			return "", err
		}
	}
	bd.out.printf("Successfully built %s\n", shortID(id))
	seen := map[string]bool{}
	for _, t := range bd.opts.Tags {
		if r, err := imagestore.ParseReference(t); err == nil {
			t = imagestore.Familiar(r)
		}
		if !seen[t] {
			seen[t] = true
			bd.out.printf("Successfully tagged %s\n", t)
		}
	}
	return id, nil
}

// metaArg declares an ARG before the first FROM: its value is the build
// arg's, else its default expanded with the meta ARGs so far.
func (bd *build) metaArg(a *instructions.ArgCommand) error {
	env := bd.metaEnv()
	if err := a.Expand(bd.expander(env)); err != nil {
		return errdefs.Invalid("%s: %v", a.String(), err)
	}
	for _, kv := range a.Args {
		v := kv.Value
		if o, ok := bd.opts.BuildArgs[kv.Key]; ok && o != nil {
			v = o
		}
		bd.metaArgs[kv.Key] = v
		bd.usedArgs[kv.Key] = true
	}
	return nil
}

// metaEnv is the environment FROM lines expand with: the meta ARGs that
// have values.
func (bd *build) metaEnv() []string {
	var env []string
	for _, k := range slices.Sorted(maps.Keys(bd.metaArgs)) {
		if v := bd.metaArgs[k]; v != nil {
			env = append(env, k+"="+*v)
		}
	}
	return env
}

// expander expands words with env, as the Dockerfile's shell would.
func (bd *build) expander(env []string) instructions.SingleWordExpander {
	return func(word string) (string, error) {
		s, _, err := bd.lex.ProcessWord(word, shell.EnvsFromSlice(env))
		return s, err
	}
}

// stageByName finds a stage built so far by name (case-insensitive) or
// index.
func (bd *build) stageByName(name string) (*stage, bool) {
	for i, st := range bd.stages {
		if strings.EqualFold(st.name, name) && st.name != "" || strconv.Itoa(i) == name {
			return st, true
		}
	}
	return nil, false
}

// undo removes the images a failed build made, newest first: the store
// is left as it was.
func (bd *build) undo() {
	ctx := context.WithoutCancel(bd.bl.root)
	for i := len(bd.created) - 1; i >= 0; i-- {
		if _, err := bd.b.RemoveImage(ctx, bd.created[i], false); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			bd.bl.logf("build: removing image %s: %v", shortID(bd.created[i]), err)
		}
	}
}

// commandText is a command as docker shows it in its step line: the
// Dockerfile's line, continuations joined.
func commandText(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return c.Name()
}

// firstOf returns the first non-empty string.
func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// absPath resolves p against the working directory dir, as WORKDIR and
// COPY's destination do; a trailing slash is kept.
func absPath(dir, p string) string {
	slash := strings.HasSuffix(p, "/")
	if !path.IsAbs(p) {
		p = path.Join("/", dir, p)
	}
	p = path.Clean(p)
	if slash && p != "/" {
		p += "/"
	}
	return p
}
