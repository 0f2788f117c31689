//go:build linux

package tests

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/internal/testenv"
)

// legacyDockerfile is a two-stage Dockerfile with most of what the legacy
// builder does: a meta ARG, a named stage, metadata steps, a RUN that sees
// a build arg and prints, a COPY from the context, a second stage that
// copies from the first.
const legacyDockerfile = `ARG BASE=busybox
FROM busybox AS base
ENV A=b
ARG V
RUN echo "v=$V a=$A" | tee /built.txt
COPY greeting.txt /dst/
WORKDIR /app
LABEL org.example.k=v
EXPOSE 8080
USER nobody
CMD ["sh", "-c", "cat /built.txt /dst/greeting.txt; pwd; id -un"]

FROM ${BASE}
COPY --from=base /built.txt /copied.txt
CMD ["cat", "/copied.txt"]
`

// legacyContext is the build context of legacyDockerfile.
var legacyContext = map[string]string{
	"Dockerfile":   legacyDockerfile,
	"greeting.txt": "hello from the context\n",
}

// greetingSum is the tarsum docker gives greeting.txt (name, mode 0644,
// uid and gid 0, size, content) as the docker CLI sends it: Debian's
// dockerd 20.10 built legacyDockerfile from the same context and recorded
// "COPY file:<greetingSum> in /dst/ ".
const greetingSum = "6c07f04bc73bd2818e2a2ca18e19d0aa4e2c94f8a3a26f2fe0f0e45d7aefb372"

// builderPath is the PATH docker's builder (and the busybox fixture) sets.
const builderPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// TestDockerBuildLegacy builds with the stock docker CLI through the
// bridge, as DOCKER_BUILDKIT=0 docker build and as docker build without
// buildx: docker's step output, the image's config and history, build -q,
// a failing RUN that leaves nothing behind, a Dockerfile syntax error.
func TestDockerBuildLegacy(t *testing.T) {
	d := startDockerd(t)
	dir := t.TempDir()
	writeTree(t, dir, legacyContext)
	legacy := []string{"DOCKER_BUILDKIT=0"}
	bbHistory := d.mustDocker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "busybox")
	bbShort := strings.TrimPrefix(strings.TrimSpace(d.mustDocker("image", "inspect", "-f", "{{.Id}}", "busybox")), "sha256:")[:12]

	out, errOut, code := d.dockerAt(dir, legacy, "build", "-t", "x", "--build-arg", "V=1", ".")
	if code != 0 {
		t.Fatalf("DOCKER_BUILDKIT=0 docker build: exit %d\n%s\n%s", code, out, errOut)
	}
	mustContain(t, "DOCKER_BUILDKIT=0 docker build's stderr", errOut, "DEPRECATED: The legacy builder is deprecated")
	xID := strings.TrimSpace(d.mustDocker("image", "inspect", "-f", "{{.Id}}", "x"))
	sending, rest, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(sending, "Sending build context to Docker daemon ") {
		t.Errorf("the build output does not start with the context upload line: %q", sending)
	}
	if !strings.Contains(rest, "\n ---> "+bbShort+"\nStep 3/14 : ENV A=b\n") {
		t.Errorf("the FROM step does not show busybox's id %s:\n%s", bbShort, rest)
	}
	if !strings.HasSuffix(rest, "Successfully built "+strings.TrimPrefix(xID, "sha256:")[:12]+"\nSuccessfully tagged x:latest\n") {
		t.Errorf("the build output does not end with docker's lines for image %s:\n%s", xID, rest)
	}
	// Docker's output, but for the container lines of the steps that only
	// change the config: docker makes a container it never starts for
	// each; enginefs makes none, and so names none.
	got := shortIDPattern.ReplaceAllString(rest, "<id>")
	if want := legacyBuildOutput(); got != want {
		t.Errorf("build output (ids as <id>):\n%s\nwant docker's (less its config-only containers):\n%s", got, want)
	}
	if got := d.mustDocker("run", "--rm", "x"); got != "v=1 a=b\n" {
		t.Errorf("docker run --rm x: %q", got)
	}
	if got := d.mustDocker("image", "inspect", "-f", "{{json .Config.Cmd}} {{json .Config.Env}} {{json .Config.Labels}} {{.Config.User}}|{{.Config.WorkingDir}}", "x"); got != `["cat","/copied.txt"] ["`+builderPath+`"] null |`+"\n" {
		t.Errorf("the final stage's config: %q", got)
	}
	hist := d.mustDocker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "x")
	if lines := strings.SplitAfterN(hist, "\n", 3); len(lines) < 3 || lines[0] != `/bin/sh -c #(nop)  CMD ["cat" "/copied.txt"]`+"\n" ||
		!regexp.MustCompile(`^/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in /copied.txt \n$`).MatchString(lines[1]) || lines[2] != bbHistory {
		t.Errorf("docker history --no-trunc x:\n%s", hist)
	}

	t.Run("target", func(t *testing.T) {
		out, errOut, code := d.dockerAt(dir, legacy, "build", "--target", "base", "-t", "xbase", "--build-arg", "V=1", ".")
		if code != 0 {
			t.Fatalf("build --target base: exit %d\n%s\n%s", code, out, errOut)
		}
		mustContain(t, "build --target base", out, "Step 1/11 : ARG BASE=busybox\n", "Step 11/11 : CMD [", "Successfully tagged xbase:latest\n")
		if n := strings.Count(out, " ---> Using cache\n"); n != 9 || strings.Contains(out, "Step 12/") {
			t.Errorf("build --target base after the full build: %d steps from the cache, want 9, and no step of the second stage:\n%s", n, out)
		}
		if got := d.mustDocker("run", "--rm", "xbase"); got != "v=1 a=b\nhello from the context\n/app\nnobody\n" {
			t.Errorf("docker run --rm xbase: %q", got)
		}
		cfg := d.mustDocker("image", "inspect", "-f", "{{json .Config.Env}}\n{{json .Config.Cmd}}\n{{.Config.WorkingDir}}\n{{json .Config.Labels}}\n"+
			"{{json .Config.ExposedPorts}}\n{{.Config.User}}", "xbase")
		want := `["` + builderPath + `","A=b"]
["sh","-c","cat /built.txt /dst/greeting.txt; pwd; id -un"]
/app
{"org.example.k":"v"}
{"8080/tcp":{}}
nobody
`
		if cfg != want {
			t.Errorf("docker image inspect xbase:\n%s\nwant:\n%s", cfg, want)
		}
		hist := d.mustDocker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "xbase")
		want = `/bin/sh -c #(nop)  CMD ["sh" "-c" "cat /built.txt /dst/greeting.txt; pwd; id -un"]
/bin/sh -c #(nop)  USER nobody
/bin/sh -c #(nop)  EXPOSE 8080
/bin/sh -c #(nop)  LABEL org.example.k=v
/bin/sh -c #(nop) WORKDIR /app
/bin/sh -c #(nop) COPY file:` + greetingSum + ` in /dst/ 
|1 V=1 /bin/sh -c echo "v=$V a=$A" | tee /built.txt
/bin/sh -c #(nop)  ARG V
/bin/sh -c #(nop)  ENV A=b
` + bbHistory
		if hist != want {
			t.Errorf("docker history --no-trunc xbase:\n%s\nwant docker's:\n%s", hist, want)
		}
	})

	t.Run("DOCKER_BUILDKIT unset", func(t *testing.T) {
		out, errOut, code := d.dockerAt(dir, nil, "build", "-t", "xdefault", "--build-arg", "V=2", ".")
		if code != 0 {
			t.Fatalf("docker build without DOCKER_BUILDKIT: exit %d\n%s\n%s", code, out, errOut)
		}
		mustContain(t, "docker build's stderr", errOut, "DEPRECATED: The legacy builder is deprecated", "Install the buildx component")
		mustContain(t, "docker build", out, "Step 14/14 : ", "Successfully tagged xdefault:latest\n")
		if got := d.mustDocker("run", "--rm", "xdefault"); got != "v=2 a=b\n" {
			t.Errorf("docker run --rm xdefault: %q", got)
		}
	})

	t.Run("quiet", func(t *testing.T) {
		out, errOut, code := d.dockerAt(dir, legacy, "build", "-q", "--build-arg", "V=3", ".")
		if code != 0 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(out) {
			t.Fatalf("docker build -q: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if got := d.mustDocker("run", "--rm", strings.TrimSpace(out)); got != "v=3 a=b\n" {
			t.Errorf("docker run --rm of the -q build's image: %q", got)
		}
	})

	t.Run("failing RUN", func(t *testing.T) {
		bad := t.TempDir()
		writeTree(t, bad, map[string]string{"Dockerfile": "FROM busybox\nRUN echo before\nRUN exit 7\nCMD [\"true\"]\n"})
		images, ps := d.mustDocker("images", "-a", "-q"), d.mustDocker("ps", "-a", "-q")
		out, errOut, code := d.dockerAt(bad, legacy, "build", "-t", "bad", ".")
		if code != 7 || !strings.Contains(errOut, "The command '/bin/sh -c exit 7' returned a non-zero code: 7") {
			t.Errorf("a build whose RUN exits 7: exit %d (docker's CLI exits with the RUN's code), stderr:\n%s", code, errOut)
		}
		mustContain(t, "the failed build's output", out, "Step 2/4 : RUN echo before\n", "\nbefore\n", "Step 3/4 : RUN exit 7\n")
		if strings.Contains(out, "Step 4/4") || strings.Contains(out, "Successfully") {
			t.Errorf("the build went on after the failing RUN:\n%s", out)
		}
		if got := d.mustDocker("images", "-a", "-q"); got != images {
			t.Errorf("docker images -a -q after the failed build:\n%s\nbefore:\n%s", got, images)
		}
		if got := d.mustDocker("ps", "-a", "-q"); got != ps {
			t.Errorf("docker ps -a -q after the failed build: %q, before %q", got, ps)
		}
	})

	t.Run("syntax error", func(t *testing.T) {
		bad := t.TempDir()
		writeTree(t, bad, map[string]string{"Dockerfile": "FROM busybox\nFROBNICATE all the things\nCMD [\"true\"]\n"})
		images := d.mustDocker("images", "-a", "-q")
		out, errOut, code := d.dockerAt(bad, legacy, "build", "-t", "syntax", ".")
		if code == 0 || !strings.Contains(errOut, "Error response from daemon: dockerfile parse error on line 2: unknown instruction: FROBNICATE") {
			t.Errorf("a Dockerfile with an unknown instruction on line 2: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
		if strings.Contains(out, "Step 1/") {
			t.Errorf("the build ran steps of a Dockerfile that does not parse:\n%s", out)
		}
		if got := d.mustDocker("images", "-a", "-q"); got != images {
			t.Errorf("docker images -a -q after the syntax error:\n%s\nbefore:\n%s", got, images)
		}
	})
}

// legacyBuildOutput is what docker's legacy builder prints (after the
// context upload line) for the first build of legacyContext with V=1, ids
// as <id>, less the " ---> Running in" and " ---> Removed intermediate
// container" lines of the steps that only change the config (docker's
// containers that never start; enginefs makes none).
func legacyBuildOutput() string {
	var b strings.Builder
	step := 0
	line := func(text string) {
		step++
		fmt.Fprintf(&b, "Step %d/14 : %s\n", step, text)
	}
	plain := func(text string) {
		line(text)
		b.WriteString(" ---> <id>\n")
	}
	meta := plain
	line("ARG BASE=busybox")
	plain("FROM busybox AS base")
	meta("ENV A=b")
	meta("ARG V")
	line(`RUN echo "v=$V a=$A" | tee /built.txt`)
	b.WriteString(" ---> Running in <id>\nv=1 a=b\n ---> Removed intermediate container <id>\n ---> <id>\n")
	plain("COPY greeting.txt /dst/")
	meta("WORKDIR /app")
	meta("LABEL org.example.k=v")
	meta("EXPOSE 8080")
	meta("USER nobody")
	meta(`CMD ["sh", "-c", "cat /built.txt /dst/greeting.txt; pwd; id -un"]`)
	plain("FROM ${BASE}")
	plain("COPY --from=base /built.txt /copied.txt")
	meta(`CMD ["cat", "/copied.txt"]`)
	b.WriteString("Successfully built <id>\nSuccessfully tagged x:latest\n")
	return b.String()
}

// TestDockerCommitImport makes images with docker commit (changes,
// message, author) and docker import (of a file and of stdin) through the
// bridge.
func TestDockerCommitImport(t *testing.T) {
	d := startDockerd(t)
	sha := regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

	d.mustDocker("run", "--name", "cm", "busybox", "sh", "-c", "echo hi > /f")
	if out := d.mustDocker("commit", "--change", `CMD ["cat","/f"]`, "--change", "ENV X=1", "-m", "msg", "-a", "me", "cm", "img:1"); !sha.MatchString(out) {
		t.Errorf("docker commit printed %q, want the image id", out)
	}
	if got := d.mustDocker("run", "--rm", "img:1"); got != "hi\n" {
		t.Errorf("docker run --rm img:1: %q", got)
	}
	want := `["` + builderPath + `","X=1"]|me|msg|["cat","/f"]` + "\n"
	if got := d.mustDocker("image", "inspect", "-f", "{{json .Config.Env}}|{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}", "img:1"); got != want {
		t.Errorf("docker image inspect img:1: %q, want %q", got, want)
	}
	if got := d.mustDocker("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "img:1"); !strings.HasPrefix(got, "sh -c echo hi > /f|msg\n") {
		t.Errorf("docker history img:1: the commit's entry should show the container's command and the comment:\n%s", got)
	}
	if got := d.mustDocker("history", "img:1"); !regexp.MustCompile(`(?m)^[0-9a-f]{12} .* sh -c echo hi > /f +3B +msg$`).MatchString(got) {
		t.Errorf("docker history img:1 does not show the comment:\n%s", got)
	}
	_, errOut, code := d.docker("commit", "--change", "RUN true", "cm", "img:2")
	if code == 0 || !strings.Contains(errOut, "RUN is not a valid change command") {
		t.Errorf("docker commit --change 'RUN true': exit %d, %q", code, errOut)
	}
	if _, _, code := d.docker("image", "inspect", "img:2"); code == 0 {
		t.Errorf("the refused commit made img:2")
	}
	d.mustDocker("rm", "cm")

	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	writeRootfsTar(t, rootfs, "hello imported\n")
	out := d.mustDocker("import", "--change", `CMD ["/bin/busybox","cat","/hello"]`, "-m", "imported", rootfs, "imp:1")
	if !sha.MatchString(out) {
		t.Errorf("docker import printed %q, want the image id", out)
	}
	if got := d.mustDocker("run", "--rm", "imp:1"); got != "hello imported\n" {
		t.Errorf("docker run --rm imp:1: %q", got)
	}
	if got := d.mustDocker("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "imp:1"); got != "|imported\n" {
		t.Errorf("docker history imp:1: %q, want one entry with the comment", got)
	}
	mustContain(t, "docker history imp:1", d.mustDocker("history", "imp:1"), "imported")
	if got := d.mustDocker("image", "inspect", "-f", "{{json .Config.Env}} {{json .Config.Cmd}} {{.Comment}}", "imp:1"); got != `null ["/bin/busybox","cat","/hello"] imported`+"\n" {
		t.Errorf("docker image inspect imp:1: %q", got)
	}

	data, err := os.ReadFile(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code = d.dockerIn(string(data), "import", "--change", `CMD ["/bin/busybox","cat","/hello"]`, "-", "name:tag")
	if code != 0 || !sha.MatchString(out) {
		t.Fatalf("docker import - name:tag < rootfs.tar: exit %d, %q, %q", code, out, errOut)
	}
	if got := d.mustDocker("run", "--rm", "name:tag"); got != "hello imported\n" {
		t.Errorf("docker run --rm name:tag: %q", got)
	}
	if got := d.mustDocker("history", "--no-trunc", "--format", "{{.Comment}}", "name:tag"); got != "Imported from -\n" {
		t.Errorf("docker history of the image imported from stdin: %q, want docker's default comment", got)
	}
}

// TestComposeBuild builds a project's two services with docker-compose
// 1.29 (up --build, through the docker CLI; then build through its own
// API client), runs them, and takes everything away with down --rmi local.
func TestComposeBuild(t *testing.T) {
	bin := testenv.NeedBinary(t, "docker-compose", "docker-compose")
	d := startDockerd(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"docker-compose.yml": `version: "3"
services:
  one:
    build:
      context: ./one
      args:
        GREETING: hello
    stop_signal: SIGKILL
  two:
    build: ./two
    stop_signal: SIGKILL
`,
		"one/Dockerfile": `FROM busybox
ARG GREETING=unset
RUN echo "one says $GREETING" > /msg
CMD ["sh", "-c", "cat /msg; exec sleep 300"]
`,
		"two/Dockerfile": `FROM busybox
COPY note.txt /note.txt
CMD ["sh", "-c", "cat /note.txt; exec sleep 300"]
`,
		"two/note.txt": "two built from its context\n",
	})
	compose := func(env []string, args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-p", "efsbuild"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(d.env(), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		code := exitCode(t, cmd, cmd.Run())
		return out.String(), code
	}
	images := d.mustDocker("images", "-a", "-q")
	defer compose(nil, "down", "--rmi", "local", "-v")
	out, code := compose(nil, "up", "--build", "-d")
	if code != 0 {
		t.Fatalf("up --build -d: exit %d\n%s", code, out)
	}
	mustContain(t, "up --build -d", out, "Successfully tagged efsbuild_one:latest", "Successfully tagged efsbuild_two:latest")
	out, code = compose(nil, "ps")
	if code != 0 || !strings.Contains(out, "efsbuild_one_1") || !strings.Contains(out, "efsbuild_two_1") || strings.Count(out, " Up ") != 2 {
		t.Errorf("ps (exit %d) does not show both services up:\n%s", code, out)
	}
	waitFor(t, func() bool {
		out, _ := compose(nil, "logs", "--no-color")
		return strings.Contains(out, "one_1  | one says hello\n") && strings.Contains(out, "two_1  | two built from its context\n")
	})
	oneID := d.mustDocker("image", "inspect", "-f", "{{.Id}}", "efsbuild_one")

	// compose's own client (docker-py's build) finds every step in the
	// cache: the same image.
	out, code = compose([]string{"COMPOSE_DOCKER_CLI_BUILD=0"}, "build", "one")
	if code != 0 {
		t.Fatalf("COMPOSE_DOCKER_CLI_BUILD=0 build one: exit %d\n%s", code, out)
	}
	mustContain(t, "COMPOSE_DOCKER_CLI_BUILD=0 build one", out, "Step 3/4 : RUN", " ---> Using cache", "Successfully tagged efsbuild_one:latest")
	if got := d.mustDocker("image", "inspect", "-f", "{{.Id}}", "efsbuild_one"); got != oneID {
		t.Errorf("the rebuild from the cache gave %s, the first build %s", got, oneID)
	}

	if out, code := compose(nil, "down", "--rmi", "local", "-v"); code != 0 {
		t.Errorf("down --rmi local -v: exit %d\n%s", code, out)
	}
	if ps := d.mustDocker("ps", "-aq"); ps != "" {
		t.Errorf("containers left after down: %q", ps)
	}
	if got := d.mustDocker("images", "-a", "-q"); got != images {
		t.Errorf("docker images -a -q after down --rmi local:\n%s\nbefore up:\n%s", got, images)
	}
	if out := d.mustDocker("network", "ls", "--format", "{{.Name}}"); strings.Contains(out, "efsbuild_") {
		t.Errorf("the project network is still listed:\n%s", out)
	}
}

// dockerPyBuild builds with python3-docker: a build with build args, and
// a build whose RUN fails.
const dockerPyBuild = `
import docker, sys
c = docker.DockerClient(base_url=sys.argv[1])
img, logs = c.images.build(path=sys.argv[2], tag="pyimg:v1", buildargs={"V": "from-py"}, rm=True)
text = "".join(l.get("stream", "") for l in logs)
print("tags", img.tags)
print("built", ("Successfully built " + img.id.split(":")[1][:12]) in text, "Successfully tagged pyimg:v1" in text)
print("run", c.containers.run("pyimg:v1", remove=True).decode().strip())
try:
    c.images.build(path=sys.argv[3], tag="pybad:v1", rm=True)
    print("no error")
except docker.errors.BuildError as e:
    print("BuildError", e.msg)
    print("log", [l["stream"].strip() for l in e.build_log if l.get("stream", "").startswith("Step")])
print("pybad", [t for i in c.images.list(all=True) for t in i.tags if t.startswith("pybad")])
`

// TestDockerPyBuild builds through the bridge with python3-docker's
// images.build.
func TestDockerPyBuild(t *testing.T) {
	testenv.Need(t, "Debian's python3-docker", pythonDocker())
	d := startDockerd(t)
	good, bad := t.TempDir(), t.TempDir()
	writeTree(t, good, map[string]string{"Dockerfile": "FROM busybox\nARG V\nRUN echo \"v=$V\" > /v\nCMD [\"cat\", \"/v\"]\n"})
	writeTree(t, bad, map[string]string{"Dockerfile": "FROM busybox\nRUN exit 3\n"})
	want := `tags ['pyimg:v1']
built True True
run v=from-py
BuildError The command '/bin/sh -c exit 3' returned a non-zero code: 3
log ['Step 1/2 : FROM busybox', 'Step 2/2 : RUN exit 3']
pybad []
`
	if out := runPy(t, dockerPyBuild, d.host, good, bad); out != want {
		t.Errorf("python3-docker printed:\n%s\nwant:\n%s", out, want)
	}
}

// TestBuiltImageRunsOnDockerd builds images with dctl, saves them with
// docker save through the bridge and loads them into Debian's dockerd
// (docker.io 20.10, started by the test): they keep their ids, run there
// as here and show the same history.
func TestBuiltImageRunsOnDockerd(t *testing.T) {
	d := startDockerd(t)
	peer := startDebianDockerd(t)
	dir := t.TempDir()
	writeTree(t, dir, legacyContext)
	d.mustDctl("build", "-t", "dk:base", "--target", "base", "--build-arg", "V=5", dir)
	d.mustDctl("build", "-t", "dk:final", "--build-arg", "V=5", dir)
	archive := filepath.Join(t.TempDir(), "image.tar")
	d.mustDocker("save", "-o", archive, "dk:base", "dk:final")

	out := peer.mustDocker("load", "-i", archive)
	mustContain(t, "docker load on dockerd", out, "Loaded image: dk:base\n", "Loaded image: dk:final\n")
	for _, ref := range []string{"dk:base", "dk:final"} {
		here := d.mustDctl("run", "--rm", ref)
		if there := peer.mustDocker("run", "--rm", "--pull", "never", "--network", "none", ref); there != here {
			t.Errorf("%s: dockerd's docker run printed %q, dctl run %q", ref, there, here)
		}
		idFormat := []string{"image", "inspect", "-f", "{{.Id}}", ref}
		if here, there := d.mustDocker(idFormat...), peer.mustDocker(idFormat...); here != there {
			t.Errorf("%s: id %s here, %s on dockerd: the config changed on the way", ref, strings.TrimSpace(here), strings.TrimSpace(there))
		}
		histFormat := []string{"history", "--no-trunc", "--format", "{{.CreatedBy}}", ref}
		if here, there := d.mustDocker(histFormat...), peer.mustDocker(histFormat...); here != there {
			t.Errorf("%s: docker history here:\n%s\non dockerd:\n%s", ref, here, there)
		}
	}
	if got := d.mustDctl("run", "--rm", "dk:base"); got != "v=5 a=b\nhello from the context\n/app\nnobody\n" {
		t.Errorf("dctl run --rm dk:base: %q", got)
	}
}

// shortIDPattern matches the short ids docker prints.
var shortIDPattern = regexp.MustCompile(`\b[0-9a-f]{12}\b`)

// writeTree writes files (relative path to content, mode 0644) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		mustWrite(t, p, data)
		if err := os.Chmod(p, 0o644); err != nil { // whatever the umask: the COPY sums depend on the mode
			t.Fatal(err)
		}
	}
}

// dockerAt runs the docker CLI against the bridge in dir with extra
// environment; DOCKER_BUILDKIT is unset unless extra sets it.
func (d *dockerd) dockerAt(dir string, extra []string, args ...string) (string, string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, args...)
	cmd.Dir = dir
	cmd.Env = slices.DeleteFunc(d.env(), func(kv string) bool { return strings.HasPrefix(kv, "DOCKER_BUILDKIT=") })
	cmd.Env = append(cmd.Env, extra...)
	return runCmd(d.t, cmd)
}

// writeRootfsTar writes a root file system tarball: the static busybox at
// /bin/busybox and /hello holding hello.
func writeRootfsTar(t *testing.T, path, hello string) {
	t.Helper()
	bb, err := os.ReadFile(testenv.Busybox)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []struct {
		name string
		mode int64
		data []byte
		dir  bool
	}{{"bin/", 0o755, nil, true}, {"bin/busybox", 0o755, bb, false}, {"hello", 0o644, []byte(hello), false}} {
		h := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), ModTime: mtime, Typeflag: tar.TypeReg}
		if e.dir {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// debianDockerd is Debian's dockerd (docker.io) on a containerd of its
// own, both started by a test in a directory of their own.
type debianDockerd struct {
	t    *testing.T
	dir  string // short: it holds the unix sockets
	sock string // dockerd's API socket
	ctrd *exec.Cmd
	dk   *exec.Cmd
	// done are closed when the processes have exited.
	ctrdDone, dkDone chan struct{}
}

// startDebianDockerd starts containerd and dockerd as this VM runs them
// (shared/tools/peers.sh: no bridge, no iptables) with every path in a
// new directory, waits for the API, and stops both and removes what they
// left when the test ends.
func startDebianDockerd(t *testing.T) *debianDockerd {
	t.Helper()
	dockerdBin := testenv.NeedBinary(t, "dockerd", "docker.io")
	ctrdBin := testenv.NeedBinary(t, "containerd", "containerd")
	testenv.NeedBinary(t, "runc", "runc")
	dir, err := os.MkdirTemp("", "dk")
	if err != nil {
		t.Fatal(err)
	}
	p := &debianDockerd{t: t, dir: dir, sock: filepath.Join(dir, "docker.sock")}
	t.Cleanup(p.teardown)
	ctrdSock := filepath.Join(dir, "ctrd.sock")
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "ctrd", "root"), filepath.Join(dir, "ctrd", "state"), ctrdSock, filepath.Join(dir, "ctrd", "opt"))
	// The daemon.json keeps dockerd's key (by default /etc/docker/key.json)
	// in the directory too.
	daemonJSON := fmt.Sprintf(`{"deprecated-key-path": %q}`, filepath.Join(dir, "key.json"))
	for name, data := range map[string]string{"containerd.toml": config, "daemon.json": daemonJSON} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.ctrd, p.ctrdDone = p.start("containerd", ctrdBin, "--config", filepath.Join(dir, "containerd.toml"))
	p.waitFor("containerd", p.ctrdDone, func() bool { return exists(ctrdSock) })
	p.dk, p.dkDone = p.start("dockerd", dockerdBin, "--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"), "-H", "unix://"+p.sock,
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "--containerd", ctrdSock,
		"--bridge", "none", "--iptables=false", "--ip6tables=false")
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", p.sock)
	}}}
	p.waitFor("dockerd", p.dkDone, func() bool {
		resp, err := client.Get("http://docker/_ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// start starts a daemon in its own process group, its output in
// dir/NAME.log.
func (p *debianDockerd) start(name, bin string, args ...string) (*exec.Cmd, chan struct{}) {
	p.t.Helper()
	log, err := os.Create(filepath.Join(p.dir, name+".log"))
	if err != nil {
		p.t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	return cmd, done
}

// waitFor waits up to 30 s for ready, failing the test (with the
// daemon's log) if it exits first or never gets ready.
func (p *debianDockerd) waitFor(name string, done chan struct{}, ready func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		select {
		case <-done:
			p.t.Fatalf("%s exited before it was ready:\n%s", name, p.log(name))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready after 30 s:\n%s", name, p.log(name))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *debianDockerd) log(name string) string {
	data, _ := os.ReadFile(filepath.Join(p.dir, name+".log"))
	return string(data)
}

// docker runs the docker CLI against this dockerd.
func (p *debianDockerd) docker(args ...string) (string, string, int) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+p.sock, "DOCKER_CONFIG="+filepath.Join(p.dir, "cli"), "DOCKER_CLI_HINTS=false")
	return runCmd(p.t, cmd)
}

func (p *debianDockerd) mustDocker(args ...string) string {
	p.t.Helper()
	out, errOut, code := p.docker(args...)
	if code != 0 {
		p.t.Fatalf("docker (Debian's dockerd) %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// teardown removes dockerd's containers, stops dockerd and then
// containerd (SIGTERM, then SIGKILL), kills the shims of that containerd
// left running, unmounts what is left under the directory and removes it.
func (p *debianDockerd) teardown() {
	if p.dk != nil && !chanClosed(p.dkDone) {
		if out, _, code := p.docker("ps", "-aq"); code == 0 && strings.TrimSpace(out) != "" {
			p.docker(append([]string{"rm", "-f"}, strings.Fields(out)...)...)
		}
	}
	p.stop("dockerd", p.dk, p.dkDone)
	p.stop("containerd", p.ctrd, p.ctrdDone)
	for _, pid := range shimsOf(filepath.Join(p.dir, "ctrd.sock")) {
		p.t.Errorf("a containerd shim (pid %d) outlived containerd; killing it", pid)
		if err := killPid(pid); err != nil {
			p.t.Error(err)
		}
	}
	m := mountsUnder(p.dir)
	slices.SortFunc(m, func(a, b string) int { return len(b) - len(a) }) // the deepest first
	for _, mp := range m {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
			p.t.Errorf("unmounting %s: %v", mp, err)
		}
	}
	if err := os.RemoveAll(p.dir); err != nil {
		p.t.Errorf("removing dockerd's directory: %v", err)
	}
	if p.t.Failed() {
		p.t.Logf("dockerd's log:\n%s\ncontainerd's log:\n%s", p.log("dockerd"), p.log("containerd"))
	}
}

// stop stops one daemon: SIGTERM, 20 s, SIGKILL.
func (p *debianDockerd) stop(name string, cmd *exec.Cmd, done chan struct{}) {
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		p.t.Errorf("%s (pid %d) did not stop on SIGTERM; killing it", name, cmd.Process.Pid)
		_ = cmd.Process.Kill()
		<-done
	}
}

// chanClosed reports whether c is closed.
func chanClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// shimsOf lists the pids of the containerd shims serving the containerd
// at sock (their command line has -address sock).
func shimsOf(sock string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(data), "\x00")
		if len(args) > 0 && strings.Contains(filepath.Base(args[0]), "containerd-shim") && slices.Contains(args, sock) {
			pids = append(pids, pid)
		}
	}
	return pids
}
