package keeper

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/enginefs/enginefs/runtime"
	"github.com/enginefs/enginefs/runtime/builtin"
	"github.com/enginefs/enginefs/runtime/oci"
)

// Main is the keeper program (cmd/enginefs-keeper), after the builtin
// runtime's IsInit check:
//
//	enginefs-keeper [--run DIR] [--idle DURATION] [--detach]
//
// --run is the run directory (default /run/enginefs), --idle how long an
// idle keeper lingers (default 2s), and --detach starts the keeper in a new
// session and returns at once (how Connect starts it). SIGTERM and SIGINT
// stop the keeper; the containers run on, without their output copied.
func Main() {
	fs := flag.NewFlagSet(BinaryName, flag.ExitOnError)
	runDir := fs.String("run", "/run/enginefs", "run directory: keeper.sock, keeper.pid")
	idle := fs.Duration("idle", DefaultIdle, "how long to linger with nothing to keep and no client")
	detach := fs.Bool("detach", false, "start the keeper in a new session and return")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected arguments %q\n", BinaryName, fs.Args())
		os.Exit(2)
	}
	if *detach {
		if err := startDetached(*runDir, *idle); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", BinaryName, err)
			os.Exit(1)
		}
		// The client that ran us dials once we are gone: exit at once,
		// without os.Exit's exit hooks (with -race, a report wait of a
		// second in which a short-idle keeper gives up on its client).
		syscall.Exit(0)
	}
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	// Caught, not ignored: an ignored signal would stay ignored in the
	// containers, which the keeper's binary starts.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	if err := os.Chdir("/"); err != nil {
		log.Print(err)
	}
	if err := Serve(ctx, Config{RunDir: *runDir, Idle: *idle, NewRuntime: NewRuntime}); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// InitBinaryName is the built-in runtime's child binary (cmd/enginefs-init),
// looked up beside the keeper's executable.
const InitBinaryName = "enginefs-init"

// NewRuntime is the keeper's Config.NewRuntime: "builtin" is the built-in
// runtime, any other name the path of an OCI runtime binary.
//
// The built-in runtime's child (each container's init, each exec's
// helper) is InitBinaryName beside the keeper's executable when there is
// one there, a binary of the child's code alone that starts in a third of
// the time the keeper's does; the runtime runs a sealed copy of it, made
// now (see builtin.WithBinary), so that a later upgrade on disk cannot
// hand this keeper a child of another version. Without it, or if the
// keeper's own executable was replaced since it started (then the file
// beside it may be of another version too), or if the copy fails, the
// child is the keeper's own executable (/proc/self/exe), which starts
// slower but always matches.
func NewRuntime(name string) (runtime.Runtime, error) {
	if name != "builtin" {
		return oci.New(name)
	}
	if bin := initBinary(); bin != "" {
		r, err := builtin.New(builtin.WithBinary(bin))
		if err == nil {
			return r, nil
		}
		log.Printf("%s: %v; the keeper's own executable will do", bin, err)
	}
	return builtin.New(builtin.WithBinary(builtin.DefaultBinary))
}

// initBinary returns the path of InitBinaryName beside the keeper's
// executable, or "" if there is none there (see initBeside).
func initBinary() string {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return ""
	}
	return initBeside(exe)
}

// initBeside returns the path of InitBinaryName beside exe, the target of
// /proc/self/exe, or "" if there is no such file or if exe is not the file
// that runs (it was replaced: the link names a deleted file).
func initBeside(exe string) string {
	if strings.HasSuffix(exe, " (deleted)") {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), InitBinaryName)
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return p
}

// startDetached starts the keeper in a new session, with this process's
// stdio, and returns without waiting for it.
func startDetached(runDir string, idle time.Duration) error {
	p, err := os.StartProcess("/proc/self/exe", []string{os.Args[0], "--run", runDir, "--idle", idle.String()}, &os.ProcAttr{
		Dir:   "/",
		Env:   os.Environ(),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return err
	}
	return p.Release()
}
