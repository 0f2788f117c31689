package dockerapi

import (
	"strings"
	"testing"
)

// TestNamesConfined: a name a client gives cannot lead the bridge's line to
// another object's ctl file, and a query that is not UTF-8 is refused.
func TestNamesConfined(t *testing.T) {
	for _, tc := range []struct {
		name, method, target, body string
		status                     int
	}{
		{"a commit of the container ..", "POST", "/commit?container=..&repo=x", "", 400},
		{"an endpoint named ../containers/web", "POST", "/containers/create",
			`{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"app":{},"../containers/web":{}}}}`, 400},
		{"a name that is not UTF-8", "POST", "/containers/create?name=%80", `{"Image":"busybox"}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fuzzTree()
			rec := f.do(t, tc.method, tc.target, tc.body)
			if rec.Code != tc.status {
				t.Errorf("answer %d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			for _, l := range f.recorded() {
				if strings.HasPrefix(l, "containers/web/ctl: ") || strings.HasPrefix(l, "containers/ctl: create image=busybox name=") {
					t.Errorf("the line %q reached the tree", l)
				}
			}
		})
	}
}
