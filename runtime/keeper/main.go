package keeper

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
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
		os.Exit(0)
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

// NewRuntime is the keeper's Config.NewRuntime: "builtin" is the built-in
// runtime, whose container init is this very executable (which starts
// faster than the daemon's would: it links, and initialises, no image
// store, FUSE or 9P); any other name is the path of an OCI runtime binary.
func NewRuntime(name string) (runtime.Runtime, error) {
	if name == "builtin" {
		return builtin.New(builtin.WithBinary("/proc/self/exe"))
	}
	return oci.New(name)
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
