package imagestore

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/enginefs/enginefs/errdefs"
)

// TestPlainHTTPOnlyWhereAllowed checks that the store speaks plain HTTP
// to loopback registries and to those listed as insecure only, whatever
// go-containerregistry's own guess for private addresses.
func TestPlainHTTPOnlyWhereAllowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	r := &registries{cfg: Registries{Insecure: []string{"10.0.0.9:5000", "insecure.example"}}}
	for _, tc := range []struct {
		host  string
		plain bool
	}{
		{"127.0.0.1:5000", true},
		{"127.0.0.2:5000", true},
		{"localhost:5000", true},
		{"[::1]:5000", true},
		{"10.0.0.9:5000", true},
		{"insecure.example:443", true},
		{"10.0.0.7:5000", false},
		{"192.168.1.5:5000", false},
		{"registry.localhost:5000", false},
		{"example.com", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			rt, err := r.transport(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			// The request goes to the test server whatever the host
			// says: only the scheme is judged.
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/", nil)
			resp, err := rt.RoundTrip(req)
			if tc.plain {
				if err != nil {
					t.Fatalf("plain HTTP to %s refused: %v", tc.host, err)
				}
				resp.Body.Close()
			} else if !errors.Is(err, errdefs.ErrPermission) {
				t.Fatalf("plain HTTP to %s = %v, want refused (errdefs.ErrPermission)", tc.host, err)
			}
			ref, err := name.ParseReference(tc.host+"/x:1", r.nameOptions(tc.host)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := ref.Context().Scheme() == "http"; tc.plain && !got {
				t.Errorf("%s: references are not marked insecure", tc.host)
			}
		})
	}
}
