package builder

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/enginefs/enginefs/errdefs"
)

// testStage is a stage with no backend: enough for the steps that only
// change the config (apply), which is all these tests run.
func testStage(run *container.Config) *stage {
	bd := &build{lex: shell.NewLex('\\'), usedArgs: map[string]bool{}, metaArgs: map[string]*string{}, out: &output{w: &bytes.Buffer{}}}
	return &stage{bd: bd, run: run, args: map[string]*string{}, cfg: &imageConfig{}}
}

// TestParseDockerfile: steps are counted as docker counts them, the
// target cuts the stages, labels become steps of the last one, and what
// the builder refuses is ErrInvalid naming the line.
func TestParseDockerfile(t *testing.T) {
	df := "ARG B=busybox\nFROM $B AS one\nRUN true\nFROM busybox AS two\nCOPY --from=one / /\nRUN true\nFROM busybox\n"
	p, err := parseDockerfile(strings.NewReader(df), "Dockerfile", "", map[string]string{"b": "2", "a": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.total != 1+3+3+2 || len(p.stages) != 3 || len(p.stages[2].Commands) != 2 {
		t.Errorf("total %d, %d stages", p.total, len(p.stages))
	}
	if l, ok := p.stages[2].Commands[0].(*instructions.LabelCommand); !ok || l.Labels[0].Key != "a" {
		t.Errorf("labels are not sorted steps of the last stage: %#v", p.stages[2].Commands)
	}
	p, err = parseDockerfile(strings.NewReader(df), "Dockerfile", "ONE", nil)
	if err != nil || len(p.stages) != 1 || p.total != 1+1+1 {
		t.Errorf("target one: %v, %+v", err, p)
	}
	for _, tc := range []struct{ df, target, want string }{
		{"", "", "cannot be empty"},
		{"# only a comment\n", "", "cannot be empty"},
		{"FROM busybox\nNOPE x\n", "", "line 2: unknown instruction: NOPE"},
		{"FROM busybox\n", "two", `target stage "two" could not be found`},
		{"FROM busybox AS a\nFROM busybox AS a\n", "", "a stage name already used"},
		{"FROM busybox\nRUN --network=none true\n", "", "line 2: the --network option requires BuildKit"},
		{"FROM busybox\nCOPY --link a b\n", "", "line 2: COPY --link requires BuildKit"},
		{"FROM busybox\nADD --keep-git-dir=true a b\n", "", "line 2: ADD --keep-git-dir"},
		{"RUN true\n", "", "no build stage"},
		{"FROM busybox\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n", "", "#!"},
	} {
		_, err := parseDockerfile(strings.NewReader(tc.df), "Dockerfile", tc.target, nil)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want ErrInvalid saying %q", tc.df, err, tc.want)
		}
	}
	big := strings.Repeat("# x\n", maxDockerfile/4+1)
	if _, err := parseDockerfile(strings.NewReader("FROM busybox\n"+big), "Dockerfile", "", nil); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("a Dockerfile over %d bytes: %v", maxDockerfile, err)
	}
}

// TestApplyComments: each config instruction changes the config as docker
// does and gives docker's history comment.
func TestApplyComments(t *testing.T) {
	for _, tc := range []struct {
		line, comment string
		check         func(c *container.Config) bool
	}{
		{`ENV A=1 B="two words"`, "ENV A=1 B=two words", func(c *container.Config) bool { return strings.Join(c.Env, ",") == "A=1,B=two words" }},
		{`LABEL a=b "c d"=e`, "LABEL a=b c d=e", func(c *container.Config) bool { return c.Labels["c d"] == "e" }},
		{`CMD echo hi`, `CMD ["/bin/sh" "-c" "echo hi"]`, func(c *container.Config) bool { return len(c.Cmd) == 3 }},
		{`CMD ["a", "b"]`, `CMD ["a" "b"]`, func(c *container.Config) bool { return len(c.Cmd) == 2 }},
		{`ENTRYPOINT ["/x"]`, `ENTRYPOINT ["/x"]`, func(c *container.Config) bool { return c.Cmd == nil && len(c.Entrypoint) == 1 }},
		{`VOLUME /a /b`, "VOLUME [/a /b]", func(c *container.Config) bool { return len(c.Volumes) == 2 }},
		{`EXPOSE 80 53/udp`, "EXPOSE 53/udp 80", func(c *container.Config) bool { return len(c.ExposedPorts) == 2 }},
		{`USER 1:2`, "USER 1:2", func(c *container.Config) bool { return c.User == "1:2" }},
		{`WORKDIR sub`, "WORKDIR /base/sub", func(c *container.Config) bool { return c.WorkingDir == "/base/sub" }},
		{`STOPSIGNAL 9`, "STOPSIGNAL 9", func(c *container.Config) bool { return c.StopSignal == "9" }},
		{`SHELL ["/bin/bash", "-c"]`, "SHELL [/bin/bash -c]", func(c *container.Config) bool { return len(c.Shell) == 2 }},
		{`HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD curl -f http://localhost/ || exit 1`,
			`HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "30s" "3s" "0s" "0s" '\x03'}`,
			func(c *container.Config) bool { return c.Healthcheck.Retries == 3 }},
		{`HEALTHCHECK NONE`, `HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" '\x00'}`, func(c *container.Config) bool { return c.Healthcheck.Test[0] == "NONE" }},
		{`ONBUILD RUN make`, "ONBUILD RUN make", func(c *container.Config) bool { return c.OnBuild[0] == "RUN make" }},
		{`ARG X=1`, "ARG X=1", func(c *container.Config) bool { return true }},
		{`ARG Y`, "ARG Y", func(c *container.Config) bool { return true }},
	} {
		st := testStage(&container.Config{WorkingDir: "/base", Cmd: []string{"old"}})
		cmd := parseOne(t, tc.line)
		if err := st.expand(cmd); err != nil {
			t.Fatal(err)
		}
		got, err := st.apply(cmd)
		if err != nil || got != tc.comment || !tc.check(st.run) {
			t.Errorf("%s: comment %q, %v, config %+v; want %q", tc.line, got, err, st.run, tc.comment)
		}
	}
	st := testStage(&container.Config{})
	if _, err := st.apply(parseOne(t, "STOPSIGNAL SIGNOPE")); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("a bad stop signal: %v", err)
	}
	// ENV words see the ENV before them and the ARGs; the config's ENV
	// wins over an ARG of the same name.
	st = testStage(&container.Config{Env: []string{"A=env"}})
	v := "arg"
	st.args["A"], st.args["B"] = &v, &v
	cmd := parseOne(t, "ENV C=$A-$B")
	st.expand(cmd)
	if c, _ := st.apply(cmd); c != "ENV C=env-arg" {
		t.Errorf("expansion: %q", c)
	}
}

func parseOne(t *testing.T, line string) instructions.Command {
	t.Helper()
	c, err := parseTrigger(line)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestApplyChanges: commit and import take docker's change instructions
// and refuse the others, naming them.
func TestApplyChanges(t *testing.T) {
	cfg := &container.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"}}
	if err := applyChanges(cfg, []string{`ENV A=1`, `CMD ["cat", "/f"]`, "EXPOSE 80", "WORKDIR /w", "LABEL l=v", "USER u"}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Env, " ") != "PATH=/bin A=1" || strings.Join(cfg.Cmd, " ") != "cat /f" || cfg.WorkingDir != "/w" || cfg.User != "u" {
		t.Errorf("config after changes: %+v", cfg)
	}
	for _, bad := range []string{"RUN true", "FROM busybox", "COPY a b", "ADD a b", "ARG x", "MAINTAINER me", "SHELL [\"sh\"]"} {
		word := strings.Fields(bad)[0]
		if err := applyChanges(&container.Config{}, []string{bad}); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), word+" is not a valid change command") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	many := make([]string, maxChanges+1)
	for i := range many {
		many[i] = "ENV A=1"
	}
	if err := applyChanges(&container.Config{}, many); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("%d changes: %v", len(many), err)
	}
}

// TestCacheKey: the key follows the parent and the step's config, not the
// fields docker's cache ignores.
func TestCacheKey(t *testing.T) {
	st := testStage(&container.Config{})
	st.imageID, st.cfg = "sha256:a", &imageConfig{OS: "linux", Architecture: "amd64"}
	s := step{probe: &container.Config{Cmd: []string{"/bin/sh", "-c", "#(nop) ", "ENV A=1"}, Hostname: "h1"}}
	k := st.key(s)
	s2 := step{probe: copyConfig(s.probe)}
	s2.probe.Hostname, s2.probe.Image = "other", "sha256:whatever"
	if st.key(s2) != k {
		t.Error("the key changes with the hostname or image of the probe")
	}
	s2.probe.Cmd = []string{"/bin/sh", "-c", "#(nop) ", "ENV A=2"}
	if st.key(s2) == k {
		t.Error("the key does not change with the command")
	}
	st.imageID = "sha256:b"
	if st.key(s) == k {
		t.Error("the key does not change with the parent")
	}
}

// TestQuietOutput: a quiet build shows only the id, or on failure all it
// held back and the error.
func TestQuietOutput(t *testing.T) {
	var b bytes.Buffer
	o := &output{w: &b, quiet: true}
	o.printf("Step 1/1 : FROM x\n")
	o.result("sha256:1")
	if b.String() != `{"stream":"sha256:1\n"}`+"\n" {
		t.Errorf("quiet success: %q", b.String())
	}
	b.Reset()
	o = &output{w: &b, quiet: true}
	o.printf("Step 1/1 : FROM x\n")
	o.fail("bad", 2)
	if got := b.String(); !strings.Contains(got, "Step 1/1") || !strings.Contains(got, `"errorDetail":{"code":2,"message":"bad"}`) {
		t.Errorf("quiet failure: %q", got)
	}
}

// FuzzDockerfile feeds the builder's front door arbitrary Dockerfiles:
// parsing, target selection and the config steps (expansion included)
// either succeed or fail with errdefs.ErrInvalid, and never panic.
func FuzzDockerfile(f *testing.F) {
	for _, seed := range []string{
		"FROM busybox\nRUN echo hi\n",
		"ARG A=1\nFROM busybox:${A}\nENV B=$A C=\"${A:-x} ${A:+y}\"\nLABEL \"k\"=v\nEXPOSE $A-2/udp\n",
		"FROM scratch AS s\nCOPY --from=0 --chown=1:1 --chmod=755 a b /c/\nWORKDIR $HOME/x\nUSER ${U:?missing}\n",
		"FROM busybox\nHEALTHCHECK --interval=1s --retries=x CMD true\nSTOPSIGNAL SIGRTMIN+3\nSHELL [\"a\"]\n",
		"FROM busybox\nRUN <<EOF\necho a\nEOF\nCOPY <<X /f\n$Y\nX\nONBUILD ONBUILD RUN x\n",
		"# escape=`\nFROM busybox\nRUN echo `\n  continued\nVOLUME [\"/a\", \"/b\"]\nENTRYPOINT []\nCMD\n",
	} {
		f.Add(seed, "")
	}
	f.Fuzz(func(t *testing.T, df, target string) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				buf := make([]byte, 1<<20)
				panic(fmt.Sprintf("hangs on %q target %q:\n%s", df, target, buf[:runtime.Stack(buf, true)]))
			}
		}()
		p, err := parseDockerfile(strings.NewReader(df), "Dockerfile", target, map[string]string{"l": "v"})
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("parse: %v; want ErrInvalid", err)
			}
			return
		}
		st := testStage(&container.Config{})
		st.bd.lex = shell.NewLex(p.escape)
		for _, s := range p.stages {
			for _, c := range s.Commands {
				switch c.(type) {
				case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand:
					if err := st.expand(c); err != nil && !errors.Is(err, errdefs.ErrInvalid) {
						t.Fatalf("expand %s: %v", commandText(c), err)
					}
					continue
				}
				if err := st.expand(c); err != nil {
					if !errors.Is(err, errdefs.ErrInvalid) {
						t.Fatalf("expand %s: %v", commandText(c), err)
					}
					continue
				}
				if _, err := st.apply(c); err != nil && !errors.Is(err, errdefs.ErrInvalid) {
					t.Fatalf("apply %s: %v", commandText(c), err)
				}
			}
		}
	})
}
