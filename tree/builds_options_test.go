package tree

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/enginefs/enginefs/builder"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/errdefs"
)

// buildLine parses a line of a build job's ctl.
func buildLine(t *testing.T, line string) verbs.Verb {
	t.Helper()
	v, err := verbs.BuildJob.Parse(line)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return v
}

// TestBuildOptions: each key of the build line lands in the builder's
// options; every key of verbs.Build is on the full line.
func TestBuildOptions(t *testing.T) {
	auth := base64.URLEncoding.EncodeToString([]byte(`{"reg.example:5000":{"username":"u","password":"p"},` +
		`"https://index.docker.io/v1/":{"auth":"dTpw","identitytoken":"tok"}}`))
	one, empty := "1", ""
	full := "build t=app:1 t=app:latest file=Dockerfile.dev build-arg=A=1 build-arg=B build-arg=C= target=final " +
		"label=l=v label=e= no-cache=true pull=true cache-from=app:0 q=true network=host memory=64m memory-swap=-1 " +
		"cpu-shares=512 cpu-period=100000 cpu-quota=50000 cpuset-cpus=0-1 shm-size=1m ulimit=nofile=10:20 " +
		"platform=linux/arm64/v8 auth=" + auth
	for _, k := range verbs.Spec(verbs.Build{}).Keys {
		if !strings.Contains(full, " "+k+"=") {
			t.Errorf("the build key %s= is not on the line of this test", k)
		}
	}
	for _, tc := range []struct {
		name, line string
		want       builder.Options
	}{
		{"every key", full, builder.Options{
			Tags: []string{"app:1", "app:latest"}, Dockerfile: "Dockerfile.dev",
			BuildArgs: map[string]*string{"A": &one, "B": nil, "C": &empty}, Target: "final",
			Labels: map[string]string{"l": "v", "e": ""}, NoCache: true, Pull: true, CacheFrom: []string{"app:0"}, Quiet: true,
			NetworkMode: "host",
			Resources: engine.Resources{Memory: 64 << 20, MemorySwap: -1, CPUShares: 512, CPUPeriod: 100000, CPUQuota: 50000,
				CpusetCpus: "0-1"},
			Ulimits: []engine.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}}, ShmSize: 1 << 20,
			Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"},
			Auth: map[string]authn.AuthConfig{
				"reg.example:5000":            {Username: "u", Password: "p"},
				"https://index.docker.io/v1/": {Auth: "dTpw", IdentityToken: "tok"},
			},
		}},
		{"nothing", "build", builder.Options{}},
		{"unpadded auth", "build auth=" + strings.TrimRight(base64.URLEncoding.EncodeToString([]byte(`{"r":{"username":"x"}}`)), "="),
			builder.Options{Auth: map[string]authn.AuthConfig{"r": {Username: "x"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := buildOptions(buildLine(t, tc.line).(verbs.Build))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// TestBuildOptionsErrors: a bad value is ErrInvalid naming it; bad
// credentials are refused without being shown.
func TestBuildOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		words, want string
	}{
		{"memory=lots", `"memory=lots"`},
		{"memory-swap=x", `"memory-swap=x"`},
		{"shm-size=big", `"shm-size=big"`},
		{"cpu-shares=x", `"cpu-shares=x"`},
		{"cpu-period=x", `"cpu-period=x"`},
		{"cpu-quota=x", `"cpu-quota=x"`},
		{"ulimit=nofile", `"nofile"`},
		{"platform=linux", `"platform=linux"`},
		{"platform=/amd64", `"platform=/amd64"`},
		{"auth=s3cr3t!", "X-Registry-Config"},
		{"auth=" + base64.URLEncoding.EncodeToString([]byte("s3cr3t")), "X-Registry-Config"},
	} {
		t.Run(tc.words, func(t *testing.T) {
			_, err := buildOptions(buildLine(t, "build "+tc.words).(verbs.Build))
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want an invalid argument naming %s", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows the credentials: %v", err)
			}
		})
	}
}

// TestImportOptions: the import line lands in the builder's import
// options.
func TestImportOptions(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       builder.ImportOptions
	}{
		{"every key", `import imp:v1 change='CMD ["sh"]' change='ENV A=1' message='from a tar' platform=linux/amd64`,
			builder.ImportOptions{Ref: "imp:v1", Changes: []string{`CMD ["sh"]`, "ENV A=1"}, Message: "from a tar",
				Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		{"nothing", "import", builder.ImportOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := importOptions(buildLine(t, tc.line).(verbs.Import))
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	for _, k := range verbs.Spec(verbs.Import{}).Keys {
		if !strings.Contains(" change= message= platform=", " "+k+"=") {
			t.Errorf("the import key %s= has no case here", k)
		}
	}
	_, err := importOptions(buildLine(t, "import platform=arm64").(verbs.Import))
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), `"platform=arm64"`) {
		t.Errorf("a bad platform: %v", err)
	}
}

// TestTransferAuth: a pull's auth= is docker's X-Registry-Auth; a bad one
// is refused without being shown.
func TestTransferAuth(t *testing.T) {
	enc := base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"p","serveraddress":"reg"}`))
	got, err := transferAuth("pull", enc)
	if err != nil || !reflect.DeepEqual(got, &authn.AuthConfig{Username: "u", Password: "p"}) {
		t.Errorf("transferAuth = %+v, %v", got, err)
	}
	if got, err := transferAuth("pull", ""); got != nil || err != nil {
		t.Errorf("no auth: %+v, %v", got, err)
	}
	_, err = transferAuth("push", "s3cr3t!")
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.HasPrefix(err.Error(), "push: auth=") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a bad auth: %v", err)
	}
}
