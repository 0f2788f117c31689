package dockerapi

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/enginefs/enginefs/ctl/verbs"
)

// fuzzTree is a tree for the fuzz targets: containers/ctl answers an id,
// web is a running container with an exec clone, app a network; every
// ctl line is recorded.
func fuzzTree() *fakeTree {
	cid := strings.Repeat("e", 64)
	f := newFakeTree()
	f.ctl("containers/ctl", func(string) (string, error) { return cid, nil })
	f.file("containers/web/inspect", `{"Id":"`+cid+`","State":{"Status":"running","Running":true}}`)
	f.file("containers/"+cid+"/inspect", `{"Id":"`+cid+`","State":{"Status":"running","Running":true}}`)
	f.file("containers/web/status", "running pid=1 started=x\n")
	f.ctl("containers/web/ctl", nil)
	f.ctl("containers/"+cid+"/ctl", nil)
	f.clone("containers/"+cid+"/exec/clone", "2", nil)
	f.ctl("networks/ctl", func(string) (string, error) { return "n1", nil })
	f.ctl("networks/app/ctl", nil)
	f.file("networks/app/config", `{"Name":"app","Id":"n1","Scope":"local","Driver":"bridge"}`)
	f.ctl("volumes/ctl", func(string) (string, error) { return "data\n", nil })
	f.file("volumes/data/config", `{"Name":"data","Driver":"local","Mountpoint":"/v","Scope":"local"}`)
	return f
}

// grammarOf is the grammar of each ctl file of fuzzTree, by the path
// recorded with a line.
var grammarOf = []struct {
	path *regexp.Regexp
	g    verbs.Grammar
}{
	{regexp.MustCompile(`^containers/ctl$`), verbs.Containers},
	{regexp.MustCompile(`^containers/[^/]+/ctl$`), verbs.Container},
	{regexp.MustCompile(`^containers/[^/]+/exec/clone$`), verbs.Exec},
	{regexp.MustCompile(`^networks/ctl$`), verbs.Networks},
	{regexp.MustCompile(`^networks/[^/]+/ctl$`), verbs.Network},
	{regexp.MustCompile(`^volumes/ctl$`), verbs.Volumes},
}

// fuzzRequest sends one request to the bridge over fuzzTree and checks
// what a hostile body may not cause: a panic (the test would die), a 5xx,
// or a line the tree cannot read.
func fuzzRequest(t *testing.T, method, target, body string) {
	f := fuzzTree()
	s := f.server()
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	req.URL.Path, req.URL.RawQuery, _ = strings.Cut(target, "?")
	req.RequestURI = ""
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s with %q: %d %s", method, target, body, rec.Code, rec.Body)
	}
	for _, rl := range f.recorded() {
		p, line, _ := strings.Cut(rl, ": ")
		var g *verbs.Grammar
		for _, e := range grammarOf {
			if e.path.MatchString(p) {
				g = &e.g
				break
			}
		}
		if g == nil {
			t.Fatalf("%s %s with %q: a line went to %s: %q", method, target, body, p, line)
		}
		if _, err := g.Parse(line); err != nil {
			t.Fatalf("%s %s with %q: the line %q on %s does not parse: %v", method, target, body, line, p, err)
		}
	}
}

// FuzzCreateRequest feeds arbitrary bodies and query strings to POST
// /containers/create.
func FuzzCreateRequest(f *testing.F) {
	f.Add(cliRunBody, "name=web")
	f.Add(cliRunItBody, "")
	f.Add(`{"Image":"busybox","Cmd":["sh","-c","echo 'a b' \"c\"\n"],"Env":["A=1\nB=2"],"Labels":{"k=v":"x y"}}`, "name=%2Fweb")
	f.Add(`{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"app":{"Aliases":["a"]},"..":{}}}}`, "")
	f.Add(`{"Image":"busybox","HostConfig":{"Binds":["/a:/b:ro,z"],"PortBindings":{"80/tcp":[{"HostPort":"8080"}]}}}`, "name=a b")
	f.Add(`{"Image": ["busybox"]}`, "")
	f.Add(`{"Image":"busybox"} trailing`, "")
	f.Fuzz(func(t *testing.T, body, query string) {
		fuzzRequest(t, "POST", "/v1.50/containers/create?"+query, body)
	})
}

// FuzzJSONEndpoints feeds arbitrary bodies to the other endpoints that
// decode JSON: network create and connect, volume create, exec create.
func FuzzJSONEndpoints(f *testing.F) {
	f.Add(uint8(0), `{"Name":"app","CheckDuplicate":true,"Driver":"bridge","Labels":{"com.docker.compose.network":"default"},"Attachable":true}`)
	f.Add(uint8(0), `{"Name":"net","IPAM":{"Driver":"default","Config":[{"Subnet":"10.9.0.0/24","Gateway":"10.9.0.1"}]},"Options":{"a":"b c"}}`)
	f.Add(uint8(1), `{"Container":"web","EndpointConfig":{"Aliases":["www"],"IPAMConfig":{"IPv4Address":"10.9.0.5"}}}`)
	f.Add(uint8(2), `{"Name":"data","Driver":"local","DriverOpts":{"type":"tmpfs","device":"tmpfs","o":"size=1m"},"Labels":{"x":"y"}}`)
	f.Add(uint8(3), `{"User":"app","Privileged":false,"Tty":true,"AttachStdin":true,"AttachStderr":true,"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":["A=1"],"WorkingDir":"/w","Cmd":["sh","-c","date"]}`)
	f.Add(uint8(4), `{"Container":"..","Force":true}`)
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		targets := []string{"/networks/create", "/networks/app/connect", "/volumes/create", "/containers/web/exec", "/networks/app/disconnect"}
		fuzzRequest(t, "POST", targets[int(which)%len(targets)], body)
	})
}
