// Command enginefs is the daemon: it owns the containers and images of one
// host and serves them as a file tree over FUSE (the mount point) and 9P2000.L
// (unix sockets or loopback TCP).
//
// On SIGTERM or SIGINT it unmounts the tree, closes its listeners and stops
// the containers it runs (containers do not outlive the daemon yet).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/fs/fusefs"
	"github.com/enginefs/enginefs/fs/ninep"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/runtime/builtin"
	"github.com/enginefs/enginefs/tree"
)

func main() {
	// The built-in runtime re-executes this binary to set up a container;
	// that child must do its work before anything else runs.
	if builtin.IsInit() {
		builtin.Init()
		return
	}
	var (
		stateDir = flag.String("state", "/var/lib/enginefs", "directory for the engine's persistent state")
		runDir   = flag.String("run", "/run/enginefs", "directory for sockets and the pid file")
		mountDir = flag.String("mount", "/mnt/engine", `where to mount the tree with FUSE ("" to not mount)`)
		ninepAdr = flag.StringArray("9p", nil, "9P address to serve, unix:PATH or tcp:HOST:PORT (loopback); repeatable (default unix:<run>/9p.sock)")
		debug    = flag.Bool("debug", false, "log every FUSE request")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "enginefs: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if len(*ninepAdr) == 0 {
		*ninepAdr = []string{"unix:" + filepath.Join(*runDir, "9p.sock")}
	}
	log.SetPrefix("enginefs: ")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *stateDir, *runDir, *mountDir, *ninepAdr, *debug); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// run starts every part, serves until ctx is done, then shuts down in the
// reverse order.
func run(ctx context.Context, stateDir, runDir, mountDir string, ninepAddrs []string, debug bool) error {
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return err
	}
	pidFile := filepath.Join(runDir, "enginefs.pid")
	if data, err := os.ReadFile(pidFile); err == nil {
		var pid int
		if _, err := fmt.Sscan(string(data), &pid); err == nil && pid > 0 && syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("another enginefs (pid %d) uses %s", pid, runDir)
		}
	}
	images, err := imagestore.New(filepath.Join(stateDir, "images"))
	if err != nil {
		return err
	}
	defer images.Close()
	rt, err := builtin.New()
	if err != nil {
		return err
	}
	eng, err := engine.New(ctx, stateDir, images, rt)
	if err != nil {
		return err
	}
	defer func() {
		if err := eng.Close(context.Background()); err != nil {
			log.Print(err)
		}
	}()
	root := tree.New(eng)
	// The pid file is written once this daemon holds the state's locks, so
	// a second daemon that fails on them never touches it.
	if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
		return err
	}
	defer os.Remove(pidFile)

	serveCtx, cancelServe := context.WithCancel(context.Background())
	var servers sync.WaitGroup
	defer servers.Wait()
	defer cancelServe()
	for _, addr := range ninepAddrs {
		l, err := ninep.Listen(ctx, addr)
		if err != nil {
			return err
		}
		servers.Add(1)
		go func() {
			defer servers.Done()
			if err := ninep.Serve(serveCtx, l, root); err != nil && !errors.Is(err, context.Canceled) {
				log.Printf("9P %s: %v", addr, err)
			}
		}()
		log.Printf("serving 9P on %s", addr)
	}
	if mountDir != "" {
		if err := os.MkdirAll(mountDir, 0o755); err != nil {
			return err
		}
		var opts []fusefs.Option
		if debug {
			opts = append(opts, fusefs.WithDebug(true))
		}
		srv, err := fusefs.Mount(ctx, mountDir, root, opts...)
		if err != nil {
			return err
		}
		defer func() {
			if err := srv.Unmount(); err != nil {
				log.Printf("unmounting %s: %v", mountDir, err)
			}
			// Let requests in flight finish before the engine closes,
			// but do not wait for a lazily detached mount's last reader.
			served := make(chan struct{})
			go func() { srv.Wait(); close(served) }()
			select {
			case <-served:
			case <-time.After(5 * time.Second):
			}
		}()
		log.Printf("tree mounted at %s", mountDir)
	}
	log.Printf("ready (pid %d, state %s)", os.Getpid(), stateDir)
	<-ctx.Done()
	log.Print("shutting down")
	return nil
}
