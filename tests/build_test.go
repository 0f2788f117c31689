//go:build linux

package tests

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writeContext writes files (name → content) into a new directory.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// imageConfig reads an image's config through dctl image inspect.
type builtImage struct {
	ID     string
	Parent string
	Config struct {
		Env          []string
		Cmd          []string
		Entrypoint   []string
		WorkingDir   string
		User         string
		Labels       map[string]string
		ExposedPorts map[string]struct{}
		Volumes      map[string]struct{}
		StopSignal   string
		OnBuild      []string
		Healthcheck  *struct{ Test []string }
	}
	RootFS struct{ Layers []string }
}

func (d *daemon) inspectImage(ref string) builtImage {
	d.t.Helper()
	var imgs []builtImage
	if err := json.Unmarshal([]byte(d.mustDctl("image", "inspect", ref)), &imgs); err != nil || len(imgs) != 1 {
		d.t.Fatalf("image inspect %s: %v", ref, err)
	}
	return imgs[0]
}

// history is docker's history of an image, newest first: its created_by
// lines.
func (d *daemon) history(ref string) []string {
	d.t.Helper()
	var items []struct {
		CreatedBy string
		Size      int64
	}
	data, err := os.ReadFile(filepath.Join(d.mnt, "images/by-id", strings.TrimPrefix(d.inspectImage(ref).ID, "sha256:"), "history"))
	if err != nil {
		d.t.Fatal(err)
	}
	if err := json.Unmarshal(data, &items); err != nil {
		d.t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.CreatedBy)
	}
	return out
}

// TestBuild builds a multi-stage Dockerfile with every instruction through
// dctl: the image runs as built, its config and docker's history lines are
// those of docker's legacy builder, and its layers are only the steps that
// changed files.
func TestBuild(t *testing.T) {
	d := startDaemon(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": `ARG BASE=busybox
FROM $BASE AS base
ARG V=default
ENV GREETING="hello there" MODE=build
RUN echo "$GREETING $V" > /greeting
COPY a.txt b.txt /files/
COPY dir /copied
ADD archive.tar /unpacked/
WORKDIR app
RUN pwd > /pwd
SHELL ["/bin/sh", "-ec"]
RUN <<EOF
echo heredoc-1 > /heredoc
echo heredoc-2 >> /heredoc
EOF
COPY --chown=daemon:daemon --chmod=640 a.txt /owned
LABEL org.example.tier=back version="1.0"
EXPOSE 8080 53/udp
VOLUME /data
USER daemon
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s CMD true
ONBUILD RUN echo built-on
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /greeting /files/a.txt /files/b.txt /copied/c.txt /unpacked/in-tar /pwd /heredoc; stat -c '%U %G %a' /owned"]

FROM busybox AS final
COPY --from=base /greeting /from-base
RUN cat /from-base
`,
		"a.txt":         "file a\n",
		"b.txt":         "file b\n",
		"dir/c.txt":     "file c\n",
		"unused.txt":    "not copied\n",
		".dockerignore": "unused.txt\n",
	})
	writeTar(t, filepath.Join(dir, "archive.tar"), map[string]string{"in-tar": "from the tar\n"})

	out := d.mustDctl("build", "-t", "built:1", "--build-arg", "V=given", "--target", "base", dir)
	for _, want := range []string{"Step 1/22 : ARG BASE=busybox\n", "Step 2/22 : FROM $BASE AS base\n", " ---> Running in ",
		" ---> Removed intermediate container ", "Successfully tagged built:1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`Successfully built [0-9a-f]{12}\n`).MatchString(out) {
		t.Errorf("no Successfully built line:\n%s", out)
	}
	got := d.mustDctl("run", "--rm", "built:1")
	want := "hello there given\nfile a\nfile b\nfile c\nfrom the tar\n/app\nheredoc-1\nheredoc-2\ndaemon daemon 640\n"
	if got != want {
		t.Errorf("the built image prints %q, want %q", got, want)
	}
	img := d.inspectImage("built:1")
	c := img.Config
	if strings.Join(c.Env, " ") != "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GREETING=hello there MODE=build" ||
		c.WorkingDir != "/app" || c.User != "daemon" || c.StopSignal != "SIGINT" ||
		c.Labels["org.example.tier"] != "back" || c.Labels["version"] != "1.0" ||
		len(c.ExposedPorts) != 2 || !hasKey(c.ExposedPorts, "8080/tcp") || !hasKey(c.ExposedPorts, "53/udp") ||
		len(c.Volumes) != 1 || strings.Join(c.OnBuild, "|") != "RUN echo built-on" ||
		c.Healthcheck == nil || strings.Join(c.Healthcheck.Test, " ") != "CMD-SHELL true" ||
		strings.Join(c.Entrypoint, " ") != "/bin/sh -c" {
		t.Errorf("config: %+v", c)
	}
	// docker's legacy builder's history, newest first (busybox's two below).
	hist := d.history("built:1")
	wantHist := []string{
		`/bin/sh -ec #(nop)  CMD ["cat /greeting /files/a.txt /files/b.txt /copied/c.txt /unpacked/in-tar /pwd /heredoc; stat -c '%U %G %a' /owned"]`,
		`/bin/sh -ec #(nop)  ENTRYPOINT ["/bin/sh" "-c"]`,
		`/bin/sh -ec #(nop)  ONBUILD RUN echo built-on`,
		`/bin/sh -ec #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" "0s" '\x00'}`,
		`/bin/sh -ec #(nop)  STOPSIGNAL SIGINT`,
		`/bin/sh -ec #(nop)  USER daemon`,
		`/bin/sh -ec #(nop)  VOLUME [/data]`,
		`/bin/sh -ec #(nop)  EXPOSE 53/udp 8080`,
		`/bin/sh -ec #(nop)  LABEL org.example.tier=back version=1.0`,
		"", // COPY --chown --chmod, checked below
		"|1 V=given /bin/sh -ec echo heredoc-1 > /heredoc\necho heredoc-2 >> /heredoc\n",
		`/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]`,
		`|1 V=given /bin/sh -c pwd > /pwd`,
		`/bin/sh -c #(nop) WORKDIR /app`,
		"", "", "", // ADD, COPY dir, COPY files
		`|1 V=given /bin/sh -c echo "$GREETING $V" > /greeting`,
		`/bin/sh -c #(nop)  ENV GREETING=hello there MODE=build`,
		`/bin/sh -c #(nop)  ARG V=default`,
	}
	if len(hist) != len(wantHist)+2 {
		t.Fatalf("history has %d entries, want %d:\n%s", len(hist), len(wantHist)+2, strings.Join(hist, "\n"))
	}
	copyLine := regexp.MustCompile(`^/bin/sh -c #\(nop\) (COPY|ADD) (--chown=daemon:daemon --chmod=640 )?(file|dir|multi):[0-9a-f]{64} in \S+ $`)
	for i, w := range wantHist {
		switch {
		case w == "" && (i == 9 || i >= 14 && i <= 16):
			h := strings.Replace(hist[i], "-ec", "-c", 1)
			if !copyLine.MatchString(h) {
				t.Errorf("history[%d] = %q, want a COPY/ADD line", i, hist[i])
			}
		case hist[i] != w:
			t.Errorf("history[%d] = %q\n                want %q", i, hist[i], w)
		}
	}
	if !strings.HasPrefix(hist[9], "/bin/sh -ec #(nop) COPY --chown=daemon:daemon --chmod=640 file:") ||
		!strings.HasPrefix(hist[14], "/bin/sh -c #(nop) ADD file:") || !strings.HasSuffix(hist[14], " in /unpacked/ ") ||
		!strings.HasPrefix(hist[15], "/bin/sh -c #(nop) COPY dir:") || !strings.HasSuffix(hist[15], " in /copied ") ||
		!strings.HasPrefix(hist[16], "/bin/sh -c #(nop) COPY multi:") || !strings.HasSuffix(hist[16], " in /files/ ") {
		t.Errorf("COPY and ADD lines: %q", hist[9:17])
	}
	// Layers: busybox's two, then one per step that changed files: RUN,
	// COPY, COPY, ADD, WORKDIR (made /app), RUN, RUN, COPY.
	if n := len(img.RootFS.Layers); n != 2+8 {
		t.Errorf("%d layers, want 10", n)
	}
	// The .dockerignore kept unused.txt out of the context.
	dir2 := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY unused.txt /\n", "unused.txt": "x", ".dockerignore": "unused.txt\n"})
	if _, errOut, code := d.dctl("build", dir2); code == 0 || !strings.Contains(errOut, "file not found in build context or excluded by .dockerignore") {
		t.Errorf("COPY of an ignored file: exit %d, %q", code, errOut)
	}

	// The whole file: the last stage, and an image built FROM the first
	// runs its ONBUILD trigger.
	out = d.mustDctl("build", "-q", "-t", "built:final", dir)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(out) {
		t.Errorf("build -q printed %q", out)
	}
	if got := d.mustDctl("run", "--rm", "built:final", "cat", "/from-base"); got != "hello there default\n" {
		t.Errorf("COPY --from=base gave %q", got)
	}
	child := writeContext(t, map[string]string{"Dockerfile": "FROM built:1\n"})
	if out := d.mustDctl("build", "-t", "child", child); !strings.Contains(out, "# Executing 1 build trigger\n") || !strings.Contains(out, "built-on\n") {
		t.Errorf("ONBUILD trigger did not run:\n%s", out)
	}
}

// writeTar writes a tar holding files.
func writeTar(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBuildCache: a rebuild of an unchanged context takes every step from
// the cache and runs nothing; a change to one copied file reruns from that
// COPY on; a new build arg value reruns the RUN that sees it; --no-cache
// runs everything; the cached rebuild gives the very same image id.
func TestBuildCache(t *testing.T) {
	d := startDaemon(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nARG N=1\nRUN echo first $N > /first\nCOPY one.txt /\nRUN cat /one.txt > /second\nCOPY two.txt /\nCMD [\"cat\", \"/second\"]\n",
		"one.txt":    "one\n",
		"two.txt":    "two\n",
	})
	build := func(args ...string) (string, string) {
		t.Helper()
		out := d.mustDctl(append(append([]string{"build", "-t", "cached"}, args...), dir)...)
		return out, d.inspectImage("cached").ID
	}
	// steps returns, per step number, whether it came from the cache.
	steps := func(out string) []bool {
		var cached []bool
		for _, s := range strings.Split(out, "Step ")[1:] {
			cached = append(cached, strings.Contains(s, " ---> Using cache\n"))
			if strings.Contains(s, " ---> Using cache\n") && strings.Contains(s, "Running in") {
				t.Errorf("a cached step ran a container: %q", s)
			}
		}
		return cached
	}
	first, id1 := build()
	if got := fmt.Sprint(steps(first)); got != "[false false false false false false false]" {
		t.Errorf("first build, cached steps %s:\n%s", got, first)
	}
	again, id2 := build()
	if got := fmt.Sprint(steps(again)); got != "[false true true true true true true]" || strings.Contains(again, "Running in") {
		t.Errorf("unchanged rebuild, cached steps %s:\n%s", got, again)
	}
	if id1 != id2 {
		t.Errorf("a fully cached rebuild made %s, not %s", id2, id1)
	}
	if err := os.WriteFile(filepath.Join(dir, "one.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, _ := build()
	if got := fmt.Sprint(steps(changed)); got != "[false true true false false false false]" {
		t.Errorf("after changing one.txt, cached steps %s:\n%s", got, changed)
	}
	if got := d.mustDctl("run", "--rm", "cached"); got != "changed\n" {
		t.Errorf("the rebuilt image prints %q", got)
	}
	// Only the mtime changes: still cached (docker's sums leave mtimes out).
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "two.txt"), future, future)
	if got := fmt.Sprint(steps(func() string { o, _ := build(); return o }())); got != "[false true true true true true true]" {
		t.Errorf("after touching two.txt, cached steps %s", got)
	}
	arg, _ := build("--build-arg", "N=2")
	if got := fmt.Sprint(steps(arg)); got != "[false true false false false false false]" {
		t.Errorf("with N=2, cached steps %s:\n%s", got, arg)
	}
	none, _ := build("--no-cache")
	if strings.Contains(none, "Using cache") {
		t.Errorf("--no-cache used the cache:\n%s", none)
	}
	// The cache is the builds' images: prune takes those nothing needs.
	d.mustDctl("rmi", "cached")
	if out := d.sh("exec 3<>builds/ctl; echo prune >&3; cat <&3"); !strings.Contains(out, "Deleted: sha256:") {
		t.Errorf("builds/ctl prune: %q", out)
	}
	if ids := d.mustDctl("images", "-a", "-q"); strings.Count(ids, "\n") != 1 {
		t.Errorf("after rmi and prune, images -a: %q (want busybox alone)", ids)
	}
}

// TestBuildFailures: a failing RUN says its command and code and leaves no
// image, tag or container; bad Dockerfiles and options are refused naming
// what is wrong, through the tree with their errno; a context holding ../
// is refused; a COPY out of the context is refused.
func TestBuildFailures(t *testing.T) {
	d := startDaemon(t)
	before := d.mustDctl("images", "-a", "-q")
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nENV A=b\nRUN echo made > /made\nRUN echo going; exit 7\n"})
	out, errOut, code := d.dctl("build", "-t", "broken", dir)
	if code != 7 || !strings.Contains(errOut, "The command '/bin/sh -c echo going; exit 7' returned a non-zero code: 7") || !strings.Contains(out, "going\n") {
		t.Errorf("failing RUN: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if after := d.mustDctl("images", "-a", "-q"); after != before {
		t.Errorf("a failed build left images: %q, before %q", after, before)
	}
	if ps := d.mustDctl("ps", "-a", "-q"); ps != "" {
		t.Errorf("a failed build left containers: %q", ps)
	}
	for _, tc := range []struct{ dockerfile, want string }{
		{"FROM busybox\nFROBNICATE x\n", "dockerfile parse error on line 2: unknown instruction: FROBNICATE"},
		{"FROM busybox\nCOPY --bogus=1 a /\n", "unknown flag: --bogus"},
		{"FROM busybox\nRUN --mount=type=cache,target=/x true\n", "the --mount option requires BuildKit"},
		{"FROM busybox\nCOPY ../outside /\n", "forbidden path outside the build context"},
		{"FROM busybox\nCOPY missing.txt /\n", "file not found in build context"},
		{"", "cannot be empty"},
		{"FROM busybox\nSTOPSIGNAL SIGBOGUS\n", "invalid signal"},
	} {
		dir := writeContext(t, map[string]string{"Dockerfile": tc.dockerfile})
		if _, errOut, code := d.dctl("build", dir); code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, %q; want an error saying %q", tc.dockerfile, code, errOut, tc.want)
		}
	}
	if _, errOut, code := d.dctl("build", "--target", "nope", dir); code == 0 || !strings.Contains(errOut, `target stage "nope" could not be found`) {
		t.Errorf("unknown target: exit %d, %q", code, errOut)
	}

	// Through the tree: a syntax error fails `start` with EINVAL and names
	// the line in err; a bad option fails the ctl write; a context with
	// ../ is refused at start.
	ctxDir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN true\nNOPE\n"})
	script := fmt.Sprintf(`n=$(cat builds/clone); echo build t=x > builds/$n/ctl; tar -C %s -cf builds/$n/context .
if echo start > builds/$n/ctl; then echo started; fi; cat builds/$n/err; cat builds/$n/status`, ctxDir)
	if out, errOut, _ := d.trySh(script); !strings.Contains(errOut, "Invalid argument") || !strings.Contains(out, "line 3: unknown instruction: NOPE") || strings.Contains(out, "started") {
		t.Errorf("syntax error through the tree: stdout %q, stderr %q", out, errOut)
	}
	if _, errOut, _ := d.trySh("n=$(cat builds/clone); echo build memory=lots > builds/$n/ctl"); !strings.Contains(errOut, "Invalid argument") {
		t.Errorf("bad option: %q", errOut)
	}
	hostile := filepath.Join(t.TempDir(), "hostile.tar")
	writeTar(t, hostile, map[string]string{"Dockerfile": "FROM busybox\n", "../escape": "x"})
	out, errOut, _ = d.trySh(fmt.Sprintf("n=$(cat builds/clone); cat %s > builds/$n/context; echo start > builds/$n/ctl; cat builds/$n/err", hostile))
	if !strings.Contains(errOut, "Invalid argument") || !strings.Contains(out, "..") {
		t.Errorf("hostile context: stdout %q, stderr %q", out, errOut)
	}
	if _, err := os.Stat(filepath.Join(d.state, "escape")); err == nil {
		t.Error("the hostile context wrote outside its directory")
	}
}

// TestBuildThroughTree drives a build with echo, tar and cat alone, as a
// client on another host would over 9P: clone, options, context, start,
// progress, status.
func TestBuildThroughTree(t *testing.T) {
	d := startDaemon(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY msg /\nRUN cat /msg\n", "msg": "over the tree\n"})
	out := d.sh(fmt.Sprintf(`n=$(cat builds/clone)
echo "build t=treebuilt:v1 label=via=tree" > builds/$n/ctl
tar -C %s -c . > builds/$n/context
echo start > builds/$n/ctl
cat builds/$n/progress > /dev/null
cat builds/$n/status`, dir))
	if !regexp.MustCompile(`^done sha256:[0-9a-f]{64}\n$`).MatchString(out) {
		t.Errorf("status %q", out)
	}
	prog := d.sh("cat builds/1/progress")
	for _, want := range []string{`{"stream":"Step 1/4 : FROM busybox\n"}`, `{"stream":"over the tree\n"}`, `{"aux":{"ID":"sha256:`, `{"stream":"Successfully tagged treebuilt:v1\n"}`} {
		if !strings.Contains(prog, want) {
			t.Errorf("progress lacks %s:\n%s", want, prog)
		}
	}
	if got := d.inspectImage("treebuilt:v1").Config.Labels["via"]; got != "tree" {
		t.Errorf("label via = %q", got)
	}
	if got := d.mustDctl("run", "--rm", "treebuilt:v1", "cat", "/msg"); got != "over the tree\n" {
		t.Errorf("built image: %q", got)
	}
	// A Dockerfile alone on stdin (no context), as docker build - < Dockerfile.
	if out, errOut, code := d.dctlIn("FROM busybox\nRUN echo from stdin\n", "build", "-t", "stdin", "-"); code != 0 || !strings.Contains(out, "from stdin\n") {
		t.Errorf("build - < Dockerfile: exit %d, %s %s", code, out, errOut)
	}
}

// TestBuildCancel: cancelling a build in a long RUN stops it at once and
// removes its container and the images it made.
func TestBuildCancel(t *testing.T) {
	d := startDaemon(t)
	before := d.mustDctl("images", "-a", "-q")
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo made > /made\nRUN echo sleeping; sleep 300\n"})
	start := time.Now()
	out := d.sh(fmt.Sprintf(`n=$(cat builds/clone); tar -C %s -c . > builds/$n/context; echo start > builds/$n/ctl
timeout 20 sh -c "until grep -qs sleeping containers/*/log; do sleep 0.1; done"
echo cancel > builds/$n/ctl; cat builds/$n/progress > /dev/null; cat builds/$n/status`, dir))
	if !strings.HasPrefix(out, "failed: ") || !strings.Contains(out, "Build cancelled") || time.Since(start) > 30*time.Second {
		t.Errorf("status after cancel %q (after %v)", out, time.Since(start))
	}
	if ps := d.mustDctl("ps", "-a", "-q"); ps != "" {
		t.Errorf("a cancelled build left containers: %q", ps)
	}
	if after := d.mustDctl("images", "-a", "-q"); after != before {
		t.Errorf("a cancelled build left images: %q, before %q", after, before)
	}
}

// TestBuildAddURL: ADD of an http URL is fetched by the daemon (from a
// server of the test's on loopback), mode 0600, its mtime the server's
// Last-Modified; --checksum is checked.
func TestBuildAddURL(t *testing.T) {
	d := startDaemon(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	modified := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/remote.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
		w.Write([]byte("fetched\n"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + l.Addr().String() + "/files/remote.txt"
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nADD " + url + " /dl/\nRUN stat -c '%a %Y' /dl/remote.txt; cat /dl/remote.txt\n"})
	out := d.mustDctl("build", "-t", "fetched", "--network", "none", dir)
	if want := fmt.Sprintf("600 %d\nfetched\n", modified.Unix()); !strings.Contains(out, want) {
		t.Errorf("ADD URL: output lacks %q:\n%s", want, out)
	}
	bad := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nADD --checksum=sha256:" + strings.Repeat("0", 64) + " " + url + " /x\n"})
	if _, errOut, code := d.dctl("build", bad); code == 0 || !strings.Contains(errOut, "checksum mismatch") {
		t.Errorf("wrong checksum: exit %d, %q", code, errOut)
	}
	missing := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nADD http://" + l.Addr().String() + "/nope /x\n"})
	if _, errOut, code := d.dctl("build", missing); code == 0 || !strings.Contains(errOut, "404") {
		t.Errorf("ADD of a missing URL: exit %d, %q", code, errOut)
	}
}

// TestCommitImport: dctl commit of a container's changes, with changes to
// the config, and dctl import of a tarball.
func TestCommitImport(t *testing.T) {
	d := startDaemon(t)
	d.mustDctl("run", "--name", "src", "busybox", "sh", "-c", "echo committed > /f; rm /etc/enginefs-fixture")
	id := strings.TrimSpace(d.mustDctl("commit", "-c", `CMD ["cat", "/f"]`, "-c", "ENV X=1", "-m", "a message", "-a", "me", "src", "committed:1"))
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Errorf("commit printed %q", id)
	}
	if got := d.mustDctl("run", "--rm", "committed:1"); got != "committed\n" {
		t.Errorf("committed image prints %q", got)
	}
	if got := d.mustDctl("run", "--rm", "committed:1", "sh", "-c", "test -e /etc/enginefs-fixture || echo gone; test -e /etc/hosts && echo hosts"); got != "gone\nhosts\n" {
		t.Errorf("committed image's files: %q", got)
	}
	img := d.inspectImage("committed:1")
	if !strings.Contains(strings.Join(img.Config.Env, " "), "X=1") {
		t.Errorf("committed env %v", img.Config.Env)
	}
	if _, errOut, code := d.dctl("commit", "-c", "RUN true", "src"); code == 0 || !strings.Contains(errOut, "RUN is not a valid change command") {
		t.Errorf("commit with RUN: exit %d, %q", code, errOut)
	}
	// The commit's layer holds the container's changes, not the mount
	// points the runtime made (/etc/hosts is the image's, none added).
	layer := img.RootFS.Layers[len(img.RootFS.Layers)-1]
	files := d.sh("find " + filepath.Join(d.state, "images/layers", strings.TrimPrefix(layer, "sha256:")) + " -printf '%P %y\\n' | sort")
	if files != " d\netc d\netc/enginefs-fixture c\nf f\n" {
		t.Errorf("the committed layer holds:\n%s", files)
	}

	tarball := filepath.Join(t.TempDir(), "root.tar")
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	writeExecTar(t, tarball, bb)
	id = strings.TrimSpace(d.mustDctl("import", "-c", `CMD ["/bin/busybox", "cat", "/hello"]`, "-m", "from a tarball", tarball, "imported:1"))
	if got := d.mustDctl("run", "--rm", "imported:1"); got != "imported\n" || !strings.HasPrefix(id, "sha256:") {
		t.Errorf("imported image %s prints %q", id, got)
	}
	if h := d.history("imported:1"); len(h) != 1 || h[0] != "" {
		t.Errorf("imported history %q", h)
	}
}

// writeExecTar writes a root file system tar of a static busybox at
// /bin/busybox (executable) and a file /hello.
func writeExecTar(t *testing.T, path string, busybox []byte) {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"bin/", 0o755, nil}, {"bin/busybox", 0o755, busybox}, {"hello", 0o644, []byte("imported\n")}} {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(f.name, "/") {
			hdr.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	tw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// TestBuildOptions: FROM scratch; RUN under the build's memory limit and
// network; docker's predefined proxy args reach RUN without an ARG but
// stay out of the history; --cache-from takes the steps of an image that
// has no build cache of its own here (loaded from an archive).
func TestBuildOptions(t *testing.T) {
	d := startDaemon(t)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY busybox /bin/busybox\nCMD [\"/bin/busybox\", \"echo\", \"from scratch\"]\n",
		"busybox":    string(bb),
	})
	if err := os.Chmod(filepath.Join(dir, "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	d.mustDctl("build", "-t", "scratchy", dir)
	if got := d.mustDctl("run", "--rm", "scratchy"); got != "from scratch\n" {
		t.Errorf("FROM scratch image prints %q", got)
	}
	if n := len(d.inspectImage("scratchy").RootFS.Layers); n != 1 {
		t.Errorf("FROM scratch image has %d layers, want 1", n)
	}

	dir = writeContext(t, map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; ip -o link | wc -l; echo proxy=$HTTP_PROXY\n"})
	out := d.mustDctl("build", "--no-cache", "-t", "limited", "-m", "48m", "--network", "none", "--build-arg", "HTTP_PROXY=http://127.0.0.1:9", dir)
	if !strings.Contains(out, "50331648\n1\nproxy=http://127.0.0.1:9\n") {
		t.Errorf("RUN's limit, links and proxy arg:\n%s", out)
	}
	if h := d.history("limited")[0]; strings.Contains(h, "HTTP_PROXY=") || !strings.HasPrefix(h, "|0 /bin/sh -c ") {
		t.Errorf("the proxy arg shows in the history: %q (docker's |0 prefix expected)", h)
	}
	if strings.Contains(out, "[Warning] One or more build-args") {
		t.Errorf("a proxy arg was reported as unused:\n%s", out)
	}
	if out := d.mustDctl("build", "--build-arg", "UNUSED=1", dir); !strings.Contains(out, "[Warning] One or more build-args [UNUSED] were not consumed\n") {
		t.Errorf("no warning for an unused build arg:\n%s", out)
	}

	// --cache-from: an image saved and loaded back has no parents nor
	// cache keys here; a build with it as cache source runs no step.
	dir = writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nENV A=1\nRUN echo built > /b\nCOPY f /f\n", "f": "f\n"})
	d.mustDctl("build", "-t", "cachesrc", dir)
	archive := filepath.Join(t.TempDir(), "src.tar")
	d.mustDctl("save", "-o", archive, "cachesrc")
	d.mustDctl("rmi", "cachesrc")
	d.sh("exec 3<>builds/ctl; echo prune >&3; cat <&3 >/dev/null")
	d.mustDctl("load", "-i", archive)
	out = d.mustDctl("build", "-t", "fromcache", "--cache-from", "cachesrc", dir)
	if strings.Count(out, " ---> Using cache\n") != 3 || strings.Contains(out, "Running in") {
		t.Errorf("--cache-from:\n%s", out)
	}
	if got := d.mustDctl("run", "--rm", "fromcache", "cat", "/b", "/f"); got != "built\nf\n" {
		t.Errorf("the image built from the cache holds %q", got)
	}
	if a, b := d.inspectImage("fromcache").RootFS.Layers, d.inspectImage("cachesrc").RootFS.Layers; strings.Join(a, " ") != strings.Join(b, " ") {
		t.Errorf("layers %v, want the cache source's %v", a, b)
	}
}
