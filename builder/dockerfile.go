package builder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/enginefs/enginefs/errdefs"
)

// maxDockerfile caps the Dockerfile a build reads (its parser caps a line
// at 64 KiB; this caps the lines).
const maxDockerfile = 4 << 20

// plan is a parsed Dockerfile: its stages up to the target, with the
// build's labels added to the last, and its ARGs before the first FROM.
type plan struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	escape   rune
	total    int // the steps, as docker counts them for "Step i/N"
}

// parseDockerfile parses a Dockerfile with buildkit's parser (the one
// docker's legacy builder uses). Syntax errors, unknown instructions and
// flags, and flags the builder refuses are errdefs.ErrInvalid naming the
// line.
func parseDockerfile(r io.Reader, name, target string, labels map[string]string) (*plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxDockerfile+1))
	if err != nil {
		return nil, errdefs.Unavailable("reading %s: %w", name, err)
	}
	if len(data) > maxDockerfile {
		return nil, errdefs.Invalid("the Dockerfile (%s) is larger than %d bytes", name, maxDockerfile)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errdefs.Invalid("the Dockerfile (%s) cannot be empty", name)
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		if strings.Contains(err.Error(), "file with no instructions") {
			return nil, errdefs.Invalid("the Dockerfile (%s) cannot be empty", name)
		}
		return nil, errdefs.Invalid("failed to parse Dockerfile: %s", parseMessage(err))
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, errdefs.Invalid("%s", parseMessage(err))
	}
	if len(stages) == 0 {
		return nil, errdefs.Invalid("the Dockerfile (%s) has no FROM", name)
	}
	if target != "" {
		i, ok := instructions.HasStage(stages, target)
		if !ok {
			return nil, errdefs.Invalid("target stage %q could not be found", target)
		}
		stages = stages[:i+1]
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		stages[len(stages)-1].AddCommand(instructions.NewLabelCommand(k, labels[k], true))
	}
	p := &plan{stages: stages, metaArgs: metaArgs, escape: res.EscapeToken, total: len(metaArgs) + len(stages)}
	names := map[string]bool{}
	for _, s := range stages {
		p.total += len(s.Commands)
		if s.Name != "" {
			if names[s.Name] {
				return nil, errdefs.Invalid("%s stage name already used", s.Name)
			}
			names[s.Name] = true
		}
		for _, c := range s.Commands {
			if err := checkCommand(c); err != nil {
				return nil, errdefs.Invalid("dockerfile parse error on line %d: %v", line(c), err)
			}
		}
	}
	return p, nil
}

// parseMessage is a parser error's message, with the stack traces of
// buildkit's errors left out.
func parseMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// line is the line of the Dockerfile a command starts on.
func line(c instructions.Command) int {
	if loc := c.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}

// checkCommand refuses the flags this builder does not apply: BuildKit's
// RUN --mount, --network, --device (as docker's legacy builder does), and
// COPY/ADD flags whose meaning needs BuildKit.
func checkCommand(c instructions.Command) error {
	switch c := c.(type) {
	case *instructions.RunCommand:
		if len(c.FlagsUsed) > 0 {
			return fmt.Errorf("the --%s option requires BuildKit, which this builder is not", c.FlagsUsed[0])
		}
		if len(c.Files) > 0 && c.PrependShell && len(c.CmdLine) == 1 {
			if h := parser.MustParseHeredoc(c.CmdLine[0]); h != nil && strings.HasPrefix(c.Files[0].Data, "#!") {
				return errors.New("RUN with a heredoc starting with #! (a script run by its interpreter) is not supported")
			}
		}
	case *instructions.CopyCommand:
		if c.Link {
			return errors.New("COPY --link requires BuildKit, which this builder is not")
		}
		if c.Parents || len(c.ExcludePatterns) > 0 {
			return errors.New("COPY --parents and --exclude require BuildKit, which this builder is not")
		}
	case *instructions.AddCommand:
		if c.Link {
			return errors.New("ADD --link requires BuildKit, which this builder is not")
		}
		if c.KeepGitDir || len(c.ExcludePatterns) > 0 {
			return errors.New("ADD --keep-git-dir and --exclude require BuildKit, which this builder is not")
		}
	case *instructions.OnbuildCommand:
		// Checked when the trigger runs.
	}
	return nil
}
