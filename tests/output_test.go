//go:build linux

package tests

import (
	"strings"
	"testing"
)

// TestOutputOfRemovedRun: stdout opened before the start of a run --rm
// container is read whole after the container ended and was removed with
// its directory (the reader holds the log from its open on; before, it
// opened the files at its first read, found them gone, and dctl printed
// nothing).
func TestOutputOfRemovedRun(t *testing.T) {
	d := startDaemon(t)
	out := d.sh(`exec 4<>containers/clone; read -r id <&4
echo "create image=busybox rm=true -- sh -c 'echo line one; echo line two'" >&4
exec 3<containers/$id/stdout
echo start >&4; exec 4>&-
for i in $(seq 200); do [ -e containers/$id ] || break; sleep 0.05; done
[ -e containers/$id ] && echo "still there"
timeout 20 cat <&3`)
	if out != "line one\nline two\n" {
		t.Errorf("the output of a removed run read %q", out)
	}
	if strings.Contains(out, "still there") {
		t.Error("the run --rm container was not removed")
	}
}
