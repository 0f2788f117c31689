//go:build linux

package builtin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/runtime"
)

// counter reads the number a counting container keeps writing to
// /tmp/count of its rootfs.
func counter(t *testing.T, bundle string) func() int {
	return func() int {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			data, _ := os.ReadFile(filepath.Join(bundle, "rootfs/tmp/count"))
			if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				return n
			}
		}
		t.Fatal("the container does not count")
		return 0
	}
}

func TestPauseResume(t *testing.T) {
	ctx := context.Background()
	for name, r := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			id, bundle, init := sleeper(t, r, runtime.SpecOptions{Args: []string{"sh", "-c",
				"i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; done"}})
			count := counter(t, bundle)
			count()
			if err := r.Pause(ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := r.Pause(ctx, id); err != nil {
				t.Errorf("Pause of a paused container: %v", err)
			}
			before := count()
			time.Sleep(100 * time.Millisecond)
			if after := count(); after != before {
				t.Errorf("paused, the count went from %d to %d", before, after)
			}
			// Exec in a paused container is refused.
			_, err := r.Exec(ctx, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: execSpec(t, bundle, "true")})
			if !errors.Is(err, errdefs.ErrBusy) {
				t.Errorf("Exec while paused = %v, want ErrBusy", err)
			}
			if err := r.Resume(ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := r.Resume(ctx, id); err != nil {
				t.Errorf("Resume of a running container: %v", err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for count() == before && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if count() == before {
				t.Error("resumed, the count does not move")
			}
			p, _ := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: execSpec(t, bundle, "true")})
			if st := wait(t, p); st.Code != 0 {
				t.Errorf("exec after Resume: %+v", st)
			}
		})
	}
}

func TestPauseErrors(t *testing.T) {
	r := newRuntime(t)
	ctx := context.Background()
	for _, tc := range []struct {
		id    string
		class error
	}{
		{"nosuch-" + newID(), errdefs.ErrNotFound},
		{"..", errdefs.ErrInvalid},
	} {
		if err := r.Pause(ctx, tc.id); !errors.Is(err, tc.class) {
			t.Errorf("Pause(%q) = %v, want %v", tc.id, err, tc.class)
		}
		if err := r.Resume(ctx, tc.id); !errors.Is(err, tc.class) {
			t.Errorf("Resume(%q) = %v, want %v", tc.id, err, tc.class)
		}
	}
}

func TestDeletePaused(t *testing.T) {
	ctx := context.Background()
	for name, r := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			id, bundle, init := sleeper(t, r, runtime.SpecOptions{})
			exec, _ := execIn(t, r, id, runtime.ExecProcess{Bundle: bundle, Pid: init.Pid(), Process: execSpec(t, bundle, "sleep", "999")})
			if err := r.Pause(ctx, id); err != nil {
				t.Fatal(err)
			}
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := r.Delete(dctx, id); err != nil {
				t.Fatalf("Delete of a paused container: %v", err)
			}
			if st := wait(t, init); st.Signal != syscall.SIGKILL {
				t.Errorf("init: %+v", st)
			}
			if st := wait(t, exec); st.Signal != syscall.SIGKILL {
				t.Errorf("exec'd: %+v", st)
			}
			for _, d := range cgroupDirs(r, runtime.CgroupParent+"/"+id) {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Errorf("cgroup %s left", d)
				}
			}
		})
	}
}
