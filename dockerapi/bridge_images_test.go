package dockerapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"

	"github.com/enginefs/enginefs/errdefs"
)

// Image ids of imageList.
var (
	idBusybox = "sha256:" + strings.Repeat("b", 64)
	idApp     = "sha256:" + strings.Repeat("a", 64)
	idStep1   = "sha256:" + strings.Repeat("1", 64)
	idStep2   = "sha256:" + strings.Repeat("2", 64)
	idOld     = "sha256:" + strings.Repeat("d", 64)
)

// imageList is images/list: busybox; app:1 built on it in two steps whose
// images are untagged parents (intermediate); and an untagged image that
// is nobody's parent (dangling).
var imageList = `[
{"Id":"` + idBusybox + `","ParentId":"","RepoTags":["busybox:latest","127.0.0.1:5000/tools/bb:v1"],"RepoDigests":["busybox@sha256:feed"],
 "Created":1700000000,"Size":4000000,"SharedSize":-1,"Labels":{},"Containers":2},
{"Id":"` + idStep1 + `","ParentId":"` + idBusybox + `","RepoTags":[],"RepoDigests":[],"Created":1700000100,"Size":4000100,
 "SharedSize":-1,"Labels":{},"Containers":0},
{"Id":"` + idStep2 + `","ParentId":"` + idStep1 + `","RepoTags":[],"RepoDigests":[],"Created":1700000200,"Size":4000200,
 "SharedSize":-1,"Labels":{},"Containers":0},
{"Id":"` + idApp + `","ParentId":"` + idStep2 + `","RepoTags":["app:1"],"RepoDigests":[],"Created":1700000300,"Size":4000300,
 "SharedSize":-1,"Labels":{"stage":"final"},"Containers":0},
{"Id":"` + idOld + `","ParentId":"","RepoTags":[],"RepoDigests":[],"Created":1600000000,"Size":10,
 "SharedSize":-1,"Labels":{},"Containers":0}
]`

// imageTree is a tree with imageList and images/ctl, whose resolve answers
// busybox's and app's ids.
func imageTree() *fakeTree {
	f := newFakeTree()
	f.file("images/list", imageList)
	f.ctl("images/ctl", func(line string) (string, error) {
		switch line {
		case "resolve busybox", "resolve 127.0.0.1:5000/tools/bb:v1":
			return idBusybox, nil
		case "resolve app:1":
			return idApp, nil
		case "rm busybox:latest force":
			return "Untagged: busybox:latest\nUntagged: busybox@sha256:feed\nDeleted: " + idBusybox, nil
		case "prune all":
			return "Deleted: " + idOld + "\nDeleted: " + idStep1 + "\nTotal reclaimed space: 2MB", nil
		case "prune":
			return "Total reclaimed space: 0B", nil
		}
		if strings.HasPrefix(line, "resolve ") || strings.HasPrefix(line, "rm ") {
			return "", errdefs.NotFound("No such image: %s", strings.Fields(line)[1])
		}
		return "", nil
	})
	f.file("images/by-id/"+strings.Repeat("b", 64)+"/inspect", `{"Id":"`+idBusybox+`","RepoTags":["busybox:latest"]}`+"\n")
	f.file("images/by-id/"+strings.Repeat("b", 64)+"/history", `[{"Id":"`+idBusybox+`","CreatedBy":"/bin/sh"}]`+"\n")
	return f
}

// TestBridgeListImages: GET /images/json is images/list; an untagged
// image that is another's parent is an intermediate image, shown with all
// only and never dangling.
func TestBridgeListImages(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		want         []string // ids, in order
		status       int
	}{
		{"default", "/images/json", []string{idBusybox, idApp, idOld}, 200},
		{"all", "/v1.50/images/json?all=1", []string{idBusybox, idStep1, idStep2, idApp, idOld}, 200},
		{"dangling", query("/images/json", "filters", `{"dangling":["true"]}`), []string{idOld}, 200},
		{"dangling with all", query("/images/json", "all", "1", "filters", `{"dangling":["true"]}`), []string{idOld}, 200},
		{"not dangling", query("/images/json", "filters", `{"dangling":["false"]}`), []string{idBusybox, idApp}, 200},
		{"label", query("/images/json", "filters", `{"label":["stage=final"]}`), []string{idApp}, 200},
		{"reference", query("/images/json", "filters", `{"reference":["app"]}`), []string{idApp}, 200},
		{"reference pattern", query("/images/json", "filters", `{"reference":["*/tools/*"]}`), []string{idBusybox}, 200},
		{"since", query("/images/json", "filters", `{"since":["busybox"]}`), []string{idApp}, 200},
		{"before", query("/images/json", "all", "1", "filters", `{"before":["app:1"]}`), []string{idBusybox, idStep1, idStep2, idOld}, 200},
		{"before an unknown image", query("/images/json", "filters", `{"before":["nosuch"]}`), nil, 404},
		{"unknown filter", query("/images/json", "filters", `{"size":["1"]}`), nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := imageTree()
			rec := f.do(t, "GET", tc.target, "")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 200 {
				return
			}
			var got []image.Summary
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, img := range got {
				ids = append(ids, img.ID)
			}
			if !reflect.DeepEqual(ids, append([]string{}, tc.want...)) {
				t.Errorf("ids\n%q\nwant\n%q", ids, tc.want)
			}
		})
	}
	t.Run("reference keeps the matching tags", func(t *testing.T) {
		f := imageTree()
		rec := f.do(t, "GET", query("/images/json", "filters", `{"reference":["busybox:latest"]}`), "")
		var got []image.Summary
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 1 {
			t.Fatalf("%s: %v", rec.Body, err)
		}
		if !reflect.DeepEqual(got[0].RepoTags, []string{"busybox:latest"}) || !reflect.DeepEqual(got[0].RepoDigests, []string{}) {
			t.Errorf("tags %q digests %q", got[0].RepoTags, got[0].RepoDigests)
		}
	})
}

// TestBridgeImageEndpoints: inspect, history, tag, rm and prune of images
// are images/ctl lines and by-id files.
func TestBridgeImageEndpoints(t *testing.T) {
	bbInspect := `{"Id":"` + idBusybox + `","RepoTags":["busybox:latest"]}` + "\n"
	for _, tc := range []struct {
		name, method, target string
		lines                []string
		status               int
		body                 string
	}{
		{"inspect", "GET", "/v1.50/images/busybox/json", []string{"images/ctl: resolve busybox"}, 200, bbInspect},
		{"inspect a name with slashes", "GET", "/images/127.0.0.1:5000/tools/bb:v1/json",
			[]string{"images/ctl: resolve 127.0.0.1:5000/tools/bb:v1"}, 200, bbInspect},
		{"history", "GET", "/images/busybox/history", []string{"images/ctl: resolve busybox"}, 200,
			`[{"Id":"` + idBusybox + `","CreatedBy":"/bin/sh"}]` + "\n"},
		{"inspect of a missing image", "GET", "/images/nosuch/json", []string{"images/ctl: resolve nosuch"}, 404,
			`{"message":"No such image: nosuch"}` + "\n"},
		{"tag", "POST", "/images/busybox/tag?repo=127.0.0.1:5000/bb&tag=v2", []string{"images/ctl: tag busybox 127.0.0.1:5000/bb:v2"}, 201, ""},
		{"tag without a tag", "POST", "/images/app:1/tag?repo=app", []string{"images/ctl: tag app:1 app"}, 201, ""},
		{"tag without a repo", "POST", "/images/app:1/tag", nil, 400,
			`{"message":"tag: repo is required (the repository to tag the image in)"}` + "\n"},
		{"rmi -f", "DELETE", "/images/busybox:latest?force=1", []string{"images/ctl: rm busybox:latest force"}, 200,
			`[{"Untagged":"busybox:latest"},{"Untagged":"busybox@sha256:feed"},{"Deleted":"` + idBusybox + `"}]` + "\n"},
		{"rmi of a missing image", "DELETE", "/images/nosuch", []string{"images/ctl: rm nosuch"}, 404,
			`{"message":"No such image: nosuch"}` + "\n"},
		{"prune -a", "POST", query("/images/prune", "filters", `{"dangling":["false"]}`), []string{"images/ctl: prune all"}, 200,
			`{"ImagesDeleted":[{"Deleted":"` + idOld + `"},{"Deleted":"` + idStep1 + `"}],"SpaceReclaimed":2000000}` + "\n"},
		{"prune", "POST", "/images/prune", []string{"images/ctl: prune"}, 200, `{"ImagesDeleted":[],"SpaceReclaimed":0}` + "\n"},
		{"prune by label", "POST", query("/images/prune", "filters", `{"label":["a"]}`), nil, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := imageTree()
			rec := f.do(t, tc.method, tc.target, "")
			sameLines(t, tc.target, f.recorded(), tc.lines)
			if rec.Code != tc.status || (tc.body != "" || tc.status < 300) && rec.Body.String() != tc.body {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body.String(), tc.status, tc.body)
			}
		})
	}
}

// buildTree is a tree with a build job 7 whose progress is the given
// lines; the job's start answers startErr.
func buildTree(startErr error, progress ...string) *fakeTree {
	f := newFakeTree()
	f.clone("builds/clone", "7", nil)
	f.ctl("builds/7/ctl", func(line string) (string, error) {
		if line == "start" {
			return "", startErr
		}
		return "", nil
	})
	f.sink("builds/7/context")
	f.stream("builds/7/progress", progress...)
	return f
}

// TestBridgeBuild: POST /build's query is the job's build line, the body
// its context; the job's progress is the answer.
func TestBridgeBuild(t *testing.T) {
	progress := []string{`{"stream":"Step 1/2 : FROM busybox\n"}` + "\n", `{"stream":" ---\u003e 1234\n"}` + "\n" +
		`{"aux":{"ID":"sha256:abcd"}}` + "\n", `{"stream":"Successfully built abcd\n"}` + "\n"}
	auth := "eyJyZWcuZXhhbXBsZSI6eyJ1c2VybmFtZSI6InUifX0="
	for _, tc := range []struct {
		name   string
		target string
		header []string
		line   string // the build line; "" none
		status int
	}{
		{"docker build as the CLI sends it",
			"/v1.50/build?buildargs=%7B%22A%22%3A%221%22%2C%22B%22%3Anull%7D&cachefrom=%5B%5D&cgroupparent=&cpuperiod=0&cpuquota=0" +
				"&cpusetcpus=&cpusetmems=&cpushares=0&dockerfile=Dockerfile&labels=%7B%22l%22%3A%22v%22%2C%22a%22%3A%22b+c%22%7D" +
				"&memory=67108864&memswap=0&networkmode=default&nocache=1&rm=1&shmsize=0&t=app%3A1&t=app%3Alatest&target=" +
				"&ulimits=%5B%7B%22Name%22%3A%22nofile%22%2C%22Hard%22%3A2048%2C%22Soft%22%3A1024%7D%5D&version=1",
			[]string{"X-Registry-Config", auth},
			"build t=app:1 t=app:latest file=Dockerfile build-arg=A=1 build-arg=B label='a=b c' label=l=v no-cache=true " +
				"memory=67108864 ulimit=nofile=1024:2048 auth=" + auth,
			200},
		{"every option", query("/build", "dockerfile", "sub/Dockerfile.dev", "target", "test", "pull", "1", "q", "1",
			"networkmode", "host", "platform", "Linux/AMD64", "memswap", "-1", "cpushares", "512", "cpuperiod", "100000",
			"cpuquota", "50000", "cpusetcpus", "0-1", "shmsize", "1048576", "cachefrom", `["app:0",""]`, "t", ""),
			nil,
			"build file=sub/Dockerfile.dev target=test pull=true cache-from=app:0 q=true network=host memory-swap=-1 " +
				"cpu-shares=512 cpu-period=100000 cpu-quota=50000 cpuset-cpus=0-1 shm-size=1048576 platform=linux/amd64",
			200},
		{"BuildKit", "/build?version=2", nil, "", 400},
		{"rm=0", "/build?rm=0", nil, "", 400},
		{"a remote context", "/build?remote=https://example.com/x.git", nil, "", 501},
		{"bad build args", "/build?buildargs=%5B1%5D", nil, "", 400},
		{"bad memory", "/build?memory=lots", nil, "", 400},
		{"extra hosts", "/build?extrahosts=a:1.2.3.4", nil, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := buildTree(nil, progress...)
			rec := f.do(t, "POST", tc.target, "the context tar", tc.header...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.line == "" {
				sameLines(t, "build", f.recorded(), nil)
				return
			}
			sameLines(t, "build", f.recorded(), []string{"builds/clone: " + tc.line, "builds/7/ctl: start"})
			if got := string(f.written("builds/7/context")); got != "the context tar" {
				t.Errorf("context %q", got)
			}
			if got, want := rec.Body.String(), strings.Join(progress, ""); got != want {
				t.Errorf("body\n%s\nwant\n%s", got, want)
			}
		})
	}
	t.Run("a start that fails", func(t *testing.T) {
		f := buildTree(errdefs.Invalid("Dockerfile:3: unknown instruction: FORM"))
		rec := f.do(t, "POST", "/build", "ctx")
		if want := `{"message":"Dockerfile:3: unknown instruction: FORM"}` + "\n"; rec.Code != 400 || rec.Body.String() != want {
			t.Errorf("answer %d %q, want 400 %q", rec.Code, rec.Body, want)
		}
		sameLines(t, "build", f.recorded(), []string{"builds/clone: build", "builds/7/ctl: start"})
	})
}

// TestBridgeImport: POST /images/create?fromSrc=- is an import job whose
// context is the body.
func TestBridgeImport(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		line         string
		status       int
	}{
		{"import with changes", query("/v1.50/images/create", "fromSrc", "-", "repo", "imp", "tag", "v1", "message", "from a tar",
			"changes", `CMD ["sh"]`, "changes", "ENV A=1", "platform", "linux/arm64"),
			`import imp:v1 change='CMD ["sh"]' change='ENV A=1' message='from a tar' platform=linux/arm64`, 200},
		{"import without a name", "/images/create?fromSrc=-", "import", 200},
		{"a repo with its tag", "/images/create?fromSrc=-&repo=imp:v2", "import imp:v2", 200},
		{"a digest", "/images/create?fromSrc=-&repo=imp&tag=sha256:abcd", "", 400},
		{"from a URL", "/images/create?fromSrc=http://example.com/rootfs.tar", "", 501},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := buildTree(nil, `{"status":"sha256:1234"}`+"\n")
			rec := f.do(t, "POST", tc.target, "rootfs tar")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.line == "" {
				sameLines(t, "import", f.recorded(), nil)
				return
			}
			sameLines(t, "import", f.recorded(), []string{"builds/clone: " + tc.line, "builds/7/ctl: start"})
			if got := string(f.written("builds/7/context")); got != "rootfs tar" {
				t.Errorf("context %q", got)
			}
			if rec.Body.String() != `{"status":"sha256:1234"}`+"\n" {
				t.Errorf("body %q", rec.Body)
			}
		})
	}
}

// TestBridgeCommit: POST /commit is the container's commit line.
func TestBridgeCommit(t *testing.T) {
	for _, tc := range []struct {
		name, target, body string
		line               string
		status             int
		reply              string
	}{
		{"with changes", query("/v1.50/commit", "container", "c1", "repo", "img", "tag", "v1", "comment", "a message",
			"author", "me <me@example.com>", "changes", `CMD ["x"]`, "changes", "EXPOSE 80", "pause", "0"), "",
			`commit img:v1 author='me <me@example.com>' comment='a message' change='CMD ["x"]' change='EXPOSE 80' pause=false`,
			201, `{"Id":"sha256:c0ffee"}` + "\n"},
		{"no tag is latest", "/commit?container=c1&repo=img", "{}", "commit img:latest", 201, `{"Id":"sha256:c0ffee"}` + "\n"},
		{"untagged, paused", "/commit?container=c1&pause=1", "null", "commit", 201, `{"Id":"sha256:c0ffee"}` + "\n"},
		{"no container", "/commit?repo=img", "", "", 400, `{"message":"container is required"}` + "\n"},
		{"a digest tag", "/commit?container=c1&repo=img&tag=sha256:ab", "", "", 400, `{"message":"cannot commit to a digest reference"}` + "\n"},
		{"a config", "/commit?container=c1", `{"Cmd":["x"]}`, "", 501, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.ctl("containers/c1/ctl", func(string) (string, error) { return "sha256:c0ffee\n", nil })
			rec := f.do(t, "POST", tc.target, tc.body)
			var want []string
			if tc.line != "" {
				want = []string{"containers/c1/ctl: " + tc.line}
			}
			sameLines(t, "commit", f.recorded(), want)
			if rec.Code != tc.status || (tc.reply != "" && rec.Body.String() != tc.reply) {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.reply)
			}
		})
	}
}

// TestBridgePull: POST /images/create?fromImage= is a pull job; its
// progress is the answer, and a job that fails before any progress is
// docker's error response with the class's status.
func TestBridgePull(t *testing.T) {
	ok := []string{
		`{"status":"Pulling from library/busybox","id":"1.36"}`,
		`{"status":"Pulling fs layer","progressDetail":{},"id":"9ad63333ebc9"}`,
		`{"status":"Digest: sha256:5eef5ed34e1e1ff0a4ae850395cbf665c4de6b4b83a32a0bc7bcb998e24e7bbb"}`,
		`{"status":"Status: Downloaded newer image for busybox:1.36"}`,
	}
	for _, tc := range []struct {
		name, target string
		header       []string
		progress     []string
		jobErr       error
		line         string
		status       int
		body         string
	}{
		{"a pull", "/v1.50/images/create?fromImage=busybox&tag=1.36", []string{"X-Registry-Auth", "eyJ1c2VybmFtZSI6InUifQ=="},
			ok, nil, "pull busybox:1.36 auth=eyJ1c2VybmFtZSI6InUifQ==", 200, strings.Join(ok, "\n") + "\n"},
		{"a platform and a digest", "/images/create?fromImage=busybox&tag=sha256:abcd&platform=linux/arm64", nil,
			ok[:1], nil, "pull busybox@sha256:abcd platform=linux/arm64", 200, ok[0] + "\n"},
		{"no such image", "/images/create?fromImage=nosuch&tag=latest", nil,
			[]string{`{"status":"Pulling from library/nosuch","id":"latest"}`, `{"errorDetail":{"message":"not found"},"error":"not found"}`},
			errdefs.NotFound("pull access denied for nosuch, repository does not exist"), "pull nosuch:latest",
			404, `{"message":"pull access denied for nosuch, repository does not exist"}` + "\n"},
		{"no image named", "/images/create", nil, nil, nil, "", 400, `{"message":"fromImage is required: the image to pull"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.clone("images/pulls/clone", "3", func(string) (string, error) { return "", tc.jobErr })
			f.ctl("images/pulls/3/ctl", nil)
			var chunks []string
			for _, p := range tc.progress {
				chunks = append(chunks, p+"\n")
			}
			f.stream("images/pulls/3/progress", chunks...)
			rec := f.do(t, "POST", tc.target, "", tc.header...)
			var want []string
			if tc.line != "" {
				want = []string{"images/pulls/clone: " + tc.line}
			}
			sameLines(t, "pull", f.recorded(), want)
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.body)
			}
		})
	}
}

// TestBridgePush: a push without a tag pushes every tag of the
// repository, one job after the other.
func TestBridgePush(t *testing.T) {
	f := imageTree()
	f.clone("images/pushes/clone", "1", nil)
	f.stream("images/pushes/1/progress", `{"status":"Pushed"}`+"\n")
	rec := f.do(t, "POST", "/images/127.0.0.1:5000/tools/bb/push", "", "X-Registry-Auth", "e30=")
	sameLines(t, "push", f.recorded(), []string{"images/pushes/clone: push 127.0.0.1:5000/tools/bb:v1 auth=e30="})
	if rec.Code != http.StatusOK {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
	f = imageTree()
	if rec := f.do(t, "POST", "/images/nosuch/push", ""); rec.Code != 404 ||
		rec.Body.String() != `{"message":"An image does not exist locally with the tag: nosuch"}`+"\n" {
		t.Errorf("push of nothing: %d %q", rec.Code, rec.Body)
	}
}

// TestBridgeAuth: POST /auth checks the credentials with a login that
// saves nothing; refused ones are 401.
func TestBridgeAuth(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		err        error
		line       string
		status     int
		reply      string
	}{
		{"good", `{"username":"u","password":"p w","serveraddress":"reg.example:5000"}`, nil,
			"login reg.example:5000 user=u password='p w' save=false", 200, `{"IdentityToken":"","Status":"Login Succeeded"}` + "\n"},
		{"refused", `{"username":"u","password":"bad","serveraddress":"reg.example:5000"}`,
			errdefs.New(errdefs.ErrPermission, "login to reg.example:5000: unauthorized"),
			"login reg.example:5000 user=u password=bad save=false", 401, `{"message":"unauthorized: login to reg.example:5000: unauthorized"}` + "\n"},
		{"a token", `{"identitytoken":"tok"}`, nil, "", 501, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTree()
			f.ctl("images/ctl", func(string) (string, error) { return "Login Succeeded", tc.err })
			rec := f.do(t, "POST", "/auth", tc.body)
			var want []string
			if tc.line != "" {
				want = []string{"images/ctl: " + tc.line}
			}
			sameLines(t, "auth", f.recorded(), want)
			if rec.Code != tc.status || (tc.reply != "" && rec.Body.String() != tc.reply) {
				t.Errorf("answer %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.reply)
			}
		})
	}
}
