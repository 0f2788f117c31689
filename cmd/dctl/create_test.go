package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
)

// TestCreateFlags: docker run's flags make the create line as docker's
// CLI makes the container's config.
func TestCreateFlags(t *testing.T) {
	t.Setenv("DCTL_TEST_VALUE", "from the client")
	os.Unsetenv("DCTL_TEST_UNSET")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var f createFlags
	cmd := &cobra.Command{Use: "run"}
	f.add(cmd)
	args := []string{"--name", "web", "-h", "host", "-it", "-e", "A=1", "-e", "DCTL_TEST_VALUE", "-e", "DCTL_TEST_UNSET",
		"-m", "64m", "--cpus", "0.5", "-c", "512", "--entrypoint", "", "--network", "app", "--network-alias", "www",
		"-p", "8080:80", "-P", "-v", "./data:/data:ro", "-v", "vol:/v", "--mount", "type=bind,src=./src,dst=/src",
		"--tmpfs", "/t", "--rm", "--read-only", "--ulimit", "nofile=10:20", "busybox", "sh", "-c", "echo hi"}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	rest := cmd.Flags().Args()
	got, err := f.create(rest[0], rest[1:])
	if err != nil {
		t.Fatal(err)
	}
	want := verbs.Create{
		Image: "busybox", Name: "web", Hostname: "host", Tty: true, Stdin: true, StdinOnce: true,
		Env: []string{"A=1", "DCTL_TEST_VALUE=from the client"}, Memory: "64m", CPUs: "0.5", CPUShares: "512",
		Entrypoint: []string{""}, Network: "app", Alias: []string{"www"}, Publish: []string{"8080:80"}, PublishAll: true,
		Volume: []string{filepath.Join(wd, "data") + ":/data:ro", "vol:/v"},
		Mount:  []string{"type=bind,src=" + filepath.Join(wd, "src") + ",dst=/src"}, Tmpfs: []string{"/t"},
		Rm: true, ReadOnly: true, Ulimit: []string{"nofile=10:20"}, Cmd: []string{"sh", "-c", "echo hi"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("create\n got %+v\nwant %+v", got, want)
	}
	if cmd.Flags().Lookup("help") == nil || cmd.Flags().ShorthandLookup("h").Name != "hostname" {
		t.Error("-h is not --hostname")
	}
	for _, fl := range verbs.Flags(&verbs.Create{}) {
		if cmd.Flags().Lookup(fl.Name) == nil {
			t.Errorf("no flag --%s", fl.Name)
		}
	}
}

// TestCreateSeccompFile: --security-opt seccomp=FILE sends the file's JSON,
// compacted, as docker's CLI does; unconfined and other options pass as
// they are; a missing file is the client's error.
func TestCreateSeccompFile(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "p.json")
	if err := os.WriteFile(prof, []byte("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) (verbs.Create, error) {
		var f createFlags
		cmd := &cobra.Command{Use: "run"}
		f.add(cmd)
		if err := cmd.ParseFlags(append(args, "busybox")); err != nil {
			t.Fatal(err)
		}
		return f.create("busybox", nil)
	}
	got, err := parse("--security-opt", "seccomp="+prof, "--security-opt", "no-new-privileges", "--security-opt", "seccomp=unconfined")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`, "no-new-privileges", "seccomp=unconfined"}
	if !reflect.DeepEqual(got.SecurityOpt, want) {
		t.Errorf("security-opt = %q, want %q", got.SecurityOpt, want)
	}
	if _, err := parse("--security-opt", "seccomp="+filepath.Join(dir, "missing.json")); err == nil {
		t.Errorf("a missing profile file was not an error")
	}
}
