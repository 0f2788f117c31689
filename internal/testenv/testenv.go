// Package testenv holds what the tests need to know about the host they run
// on and how they were built, and the one rule for a host feature that is
// missing.
//
// The rule (Need): a test that cannot run without a host feature checks the
// feature directly (Root, FUSE, Overlayfs, NFTables, Binary, StaticBusybox)
// before it starts, never by reading an error of the code under test as
// "the host cannot". A missing feature skips the test with a message naming
// it, except under CI (CI=true in the environment, as .ci/run sets it),
// where the suite's host is meant to have everything and a missing feature
// fails the test instead. Once the feature is there, any failure of the
// code under test is a failure.
//
// Entry points: Need, the checks, GoBuild (go build with the test binary's
// -race setting).
package testenv

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

// CI reports whether the tests run in CI: CI=true (or 1) in the environment.
func CI() bool {
	v := os.Getenv("CI")
	return v == "true" || v == "1"
}

// Need skips tb, naming feature and why it is missing, when err is not
// nil; under CI it fails tb instead. A nil err returns at once.
func Need(tb testing.TB, feature string, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if CI() {
		tb.Fatalf("host feature %s is missing (CI=true: the suite's host must have it): %v", feature, err)
	}
	tb.Skipf("needs %s: %v", feature, err)
}

// errNotRoot is Root's error.
var errNotRoot = errors.New("not running as root")

// Root is nil when the process runs as root.
func Root() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w (euid %d)", errNotRoot, os.Geteuid())
	}
	return nil
}

// NeedRoot is Need(tb, "root", Root()).
func NeedRoot(tb testing.TB) {
	tb.Helper()
	Need(tb, "root", Root())
}
