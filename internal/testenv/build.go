package testenv

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
)

// BuildFlags are the go build flags that give a binary the test binary's
// race detector setting. With -race and static, the binary is linked
// statically too (the race runtime needs cgo, which links glibc
// dynamically): enginefs-init runs where no shared library is.
func BuildFlags(static bool) []string {
	switch {
	case !Race:
		return nil
	case static:
		return []string{"-race", "-ldflags=-linkmode=external -extldflags=-static"}
	}
	return []string{"-race"}
}

// GoBuild returns the command that builds the package pkg (an import path,
// or a directory relative to the command's Dir) into out with
// BuildFlags(static).
func GoBuild(ctx context.Context, out, pkg string, static bool) *exec.Cmd {
	args := append([]string{"build", "-o", out}, BuildFlags(static)...)
	return exec.CommandContext(ctx, "go", append(args, pkg)...)
}

// crashMarks are what the Go runtime prints when a program panics, dies of
// a fatal error, or (built with -race) sees a data race.
var crashMarks = []string{"panic:", "fatal error:", "WARNING: DATA RACE"}

// CheckOutput fails tb when out, the output of the program what, shows a
// panic, a fatal error or a data race; it returns whether it did.
func CheckOutput(tb testing.TB, what string, out []byte) bool {
	tb.Helper()
	for _, m := range crashMarks {
		if i := bytes.Index(out, []byte(m)); i >= 0 {
			end := min(len(out), i+4000)
			tb.Errorf("%s printed %q:\n%s", what, m, out[i:end])
			return true
		}
	}
	return false
}
