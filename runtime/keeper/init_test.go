package keeper

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestInitBeside(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"both", "keeper", "dir"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"both/" + InitBinaryName, "both/" + BinaryName, "keeper/" + BinaryName} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir", InitBinaryName), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, exe, want string
	}{
		{"beside", dir + "/both/" + BinaryName, dir + "/both/" + InitBinaryName},
		{"none", dir + "/keeper/" + BinaryName, ""},
		{"a directory", dir + "/dir/" + BinaryName, ""},
		{"keeper replaced", dir + "/both/" + BinaryName + " (deleted)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := initBeside(tc.exe); got != tc.want {
				t.Errorf("initBeside(%q) = %q, want %q", tc.exe, got, tc.want)
			}
		})
	}
}

// TestContainerInit checks that the keeper's built-in runtime runs
// enginefs-init, beside the keeper, as the containers' init and exec
// helper. A program whose interpreter is /proc/self/exe makes the kernel
// run that binary again in the container (the keeper's own, dynamically
// linked, would not even load there), where it must refuse to do anything.
func TestContainerInit(t *testing.T) {
	c, _ := startKeeper(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const refusal = InitBinaryName + ": the built-in runtime's container init and exec helper, run by the runtime only"
	root := rootfs(t)
	if err := os.WriteFile(filepath.Join(root, "evil"), []byte("#!/proc/self/exe\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	id, logDir := newID(), t.TempDir()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundleWith(t, root, id, false, "/evil"), LogDir: logDir}); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Wait(ctx, id, ""); err != nil || st.Code != 2 {
		t.Errorf("init: Wait = %+v, %v; want code 2", st, err)
	}
	if got := logText(t, logDir); !strings.Contains(got, refusal) {
		t.Errorf("init: log %q, want %q", got, refusal)
	}

	id = newID()
	if _, err := c.Start(ctx, StartRequest{ID: id, Bundle: bundleWith(t, root, id, false, "sleep", "100"), LogDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	logDir = t.TempDir()
	if _, err := c.Exec(ctx, ExecRequest{ContainerID: id, ExecID: "evil", LogDir: logDir, Process: specs.Process{Args: []string{"/evil"}, Cwd: "/"}}); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Wait(ctx, id, "evil"); err != nil || st.Code != 2 {
		t.Errorf("exec: Wait = %+v, %v; want code 2", st, err)
	}
	if got := logText(t, logDir); !strings.Contains(got, refusal) {
		t.Errorf("exec: log %q, want %q", got, refusal)
	}
}
