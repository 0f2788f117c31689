// Command enginefs is the daemon: it owns the containers and images of one
// host and serves them as a file tree over FUSE (the mount point) and 9P2000.L
// (unix sockets or loopback TCP), and the Docker Engine API over that tree
// (dockerapi; unix sockets, loopback TCP, or TCP with mutual TLS). The
// containers' processes run under the keeper (enginefs-keeper), which it
// starts when none runs.
//
// 9P has no authentication of its own: the unix socket is root's alone
// (mode 0600 in the run directory, mode 0700), and 9P on TCP, which any
// local user could reach, is refused unless --insecure-tcp says so.
//
// A mount point left dead by a daemon killed with -9 is detached and
// mounted afresh; a live one of another daemon is not taken over.
//
// On SIGTERM or SIGINT it unmounts the tree and closes its listeners; the
// containers go on running under the keeper, and the next daemon takes them
// back (live restore).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/enginefs/enginefs/builder"
	"github.com/enginefs/enginefs/dockerapi"
	"github.com/enginefs/enginefs/engine"
	"github.com/enginefs/enginefs/engine/network"
	"github.com/enginefs/enginefs/engine/volume"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/fusefs"
	"github.com/enginefs/enginefs/fs/ninep"
	"github.com/enginefs/enginefs/idmap"
	"github.com/enginefs/enginefs/imagestore"
	"github.com/enginefs/enginefs/runtime/keeper"
	"github.com/enginefs/enginefs/runtime/oci"
	"github.com/enginefs/enginefs/tree"
	"github.com/enginefs/enginefs/voldrv/local"
	"github.com/enginefs/enginefs/voldrv/plugin"
)

func main() {
	var (
		stateDir  = flag.String("state", "/var/lib/enginefs", "directory for the engine's persistent state")
		runDir    = flag.String("run", "/run/enginefs", "directory for sockets and the pid file")
		mountDir  = flag.String("mount", "/mnt/engine", `where to mount the tree with FUSE ("" to not mount)`)
		ninepAdr  = flag.StringArray("9p", nil, "9P address to serve, unix:PATH or tcp:HOST:PORT (loopback, with --insecure-tcp); repeatable (default unix:<run>/9p.sock)")
		insecTCP  = flag.Bool("insecure-tcp", false, "allow --9p tcp:...: 9P has no authentication, so any local user or host-network container gets root through it (default off)")
		ninepLim  = ninepFlags()
		remapFl   = flag.String("userns-remap", "", `run containers in a user namespace of USER[:GROUP]'s subordinate ids ("default": the dockremap user, made if missing), so that their root is not the host's; needs --default-runtime runc or crun`)
		subuid    = flag.String("subuid-file", idmap.SystemFiles.SubUID, "where --userns-remap reads subordinate uids")
		subgid    = flag.String("subgid-file", idmap.SystemFiles.SubGID, "where --userns-remap reads subordinate gids")
		debug     = flag.Bool("debug", false, "log every FUSE request")
		keeperBin = flag.String("keeper", "", "the enginefs-keeper binary (default: beside this binary, else in $PATH)")
		runtimes  = flag.StringArray("add-runtime", nil, "an OCI runtime containers may use, NAME=PATH; repeatable (runc and crun are added when found in $PATH)")
		defRT     = flag.String("default-runtime", "builtin", "the runtime of containers that name none")
		logDrv    = flag.String("log-driver", engine.DefaultLogDriver, "the logging driver of containers that name none (json-file, local, none, syslog, journald)")
		logOpts   = flag.StringArray("log-opt", nil, "an option of --log-driver, KEY=VALUE; repeatable")
		idle      = flag.Duration("keeper-idle", 0, "how long a keeper this daemon starts lingers with nothing to keep (default 2s)")
		regAddr   = flag.String("registry-addr", "", "serve the image store as a read-only registry on HOST:PORT (loopback, or any with --registry-tls-cert/-key/-ca: mutual TLS)")
		regCert   = flag.String("registry-tls-cert", "", "TLS certificate of the served registry")
		regKey    = flag.String("registry-tls-key", "", "TLS key of the served registry")
		regCA     = flag.String("registry-tls-ca", "", "the CA that signs the certificates clients of the served registry must present")
		insecure  = flag.StringArray("insecure-registry", nil, "a registry HOST[:PORT] spoken to over plain HTTP or unverified TLS; repeatable (loopback registries may always use plain HTTP)")
		regCAs    = flag.StringArray("registry-ca", nil, "a PEM file of CAs trusted for every registry; repeatable")
		certsDir  = flag.String("registry-certs", "", "a directory laid out as docker's certs.d: DIR/HOST:PORT/*.crt, client.cert, client.key (default <state>/certs.d)")
		authFile  = flag.String("auth-config", "", "the docker-compatible config.json holding registry credentials (default <state>/auth/config.json)")
		netFlags  = networkFlags()
		pluginDir = flag.String("plugin-dir", "/run/docker/plugins", "where Docker volume plugins' sockets are (NAME.sock or NAME.spec)")
		dockerAdr = flag.StringArray("docker", nil, `Docker Engine API address, unix:PATH or tcp:HOST:PORT (loopback, or any with --tls-*); repeatable; "" for none (default unix:<run>/docker.sock)`)
		tlsCert   = flag.String("tls-cert", "", "the daemon's TLS certificate (PEM) for TCP listeners off loopback")
		tlsKey    = flag.String("tls-key", "", "the key of --tls-cert")
		tlsCA     = flag.String("tls-ca", "", "the CA that client certificates must be signed by (mutual TLS)")
	)
	maxLayer, maxArchive := imagestore.Size(imagestore.DefaultMaxLayerSize), imagestore.Size(imagestore.DefaultMaxArchiveSize)
	flag.Var(&maxLayer, "max-layer-size", "the most a layer may unpack to (pull, load, import, build); larger ones are refused")
	flag.Var(&maxArchive, "max-archive-size", "the most an image archive (load) or imported tar may hold, uncompressed")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "enginefs: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if len(*ninepAdr) == 0 {
		*ninepAdr = []string{"unix:" + filepath.Join(*runDir, "9p.sock")}
	}
	if err := checkNinepTCP(*ninepAdr, *insecTCP); err != nil {
		fmt.Fprintf(os.Stderr, "enginefs: %v\n", err)
		os.Exit(2)
	}
	if len(*dockerAdr) == 0 {
		*dockerAdr = []string{"unix:" + filepath.Join(*runDir, "docker.sock")}
	}
	tc, err := tlsConfig(*tlsCert, *tlsKey, *tlsCA)
	if err != nil {
		fmt.Fprintf(os.Stderr, "enginefs: %v\n", err)
		os.Exit(2)
	}
	log.SetPrefix("enginefs: ")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	rts, err := runtimeTable(ctx, *runtimes, *defRT)
	if err != nil {
		fmt.Fprintf(os.Stderr, "enginefs: %v\n", err)
		os.Exit(2)
	}
	bin, err := keeperBinary(*keeperBin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "enginefs: %v\n", err)
		os.Exit(2)
	}
	netcfg, err := netFlags.config(*runDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "enginefs: %v\n", err)
		os.Exit(2)
	}
	cfg := config{state: *stateDir, run: *runDir, mount: *mountDir, ninep: *ninepAdr, insecureTCP: *insecTCP, debug: *debug,
		keeper: bin, keeperIdle: *idle, runtimes: rts, defaultRuntime: *defRT, net: netcfg, pluginDir: *pluginDir,
		docker: *dockerAdr, tls: tc, ninepLimits: ninepLim()}
	if cfg.logConfig, err = logConfig(*logDrv, *logOpts); err != nil {
		fmt.Fprintf(os.Stderr, "enginefs: %v\n", err)
		os.Exit(2)
	}
	if *remapFl != "" {
		r, err := idmap.Resolve(*remapFl, idmap.Files{SubUID: *subuid, SubGID: *subgid})
		if err != nil {
			fmt.Fprintf(os.Stderr, "enginefs: %v\n", err)
			os.Exit(2)
		}
		cfg.remap = r
	}
	cfg.imageOpts = []imagestore.Option{imagestore.WithMaxLayerSize(int64(maxLayer)), imagestore.WithMaxArchiveSize(int64(maxArchive))}
	cfg.registry = registryConfig{addr: *regAddr, cert: *regCert, key: *regKey, ca: *regCA, regs: imagestore.Registries{
		Insecure: *insecure, CAFiles: *regCAs, CertsDir: *certsDir, AuthFile: *authFile}}
	if err := cfg.registry.check(*stateDir); err != nil {
		fmt.Fprintf(os.Stderr, "enginefs: %v\n", err)
		os.Exit(2)
	}
	if err := run(ctx, cfg); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	state, run, mount string
	ninep             []string
	insecureTCP       bool // 9P on TCP was allowed with --insecure-tcp
	ninepLimits       ninep.Limits
	remap             *idmap.Remap // --userns-remap, or nil
	debug             bool
	keeper            string
	keeperIdle        time.Duration
	runtimes          map[string]string // name → OCI binary ("builtin" → "")
	defaultRuntime    string
	registry          registryConfig
	net               network.Config
	pluginDir         string
	docker            []string            // Docker API addresses ("" entries: none)
	tls               *tls.Config         // for TCP Docker API listeners, or nil
	imageOpts         []imagestore.Option // --max-layer-size, --max-archive-size
	logConfig         engine.LogConfig    // --log-driver, --log-opt
}

// logConfig checks the daemon's --log-driver and --log-opt as dockerd
// does: a bad one stops the daemon.
func logConfig(driver string, opts []string) (engine.LogConfig, error) {
	lc := engine.LogConfig{Type: driver, Config: map[string]string{}}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return engine.LogConfig{}, fmt.Errorf("--log-opt %q: want KEY=VALUE", o)
		}
		lc.Config[k] = v
	}
	if err := engine.CheckLogConfig(lc); err != nil {
		return engine.LogConfig{}, fmt.Errorf("--log-driver %s: %w", driver, err)
	}
	return lc, nil
}

// runtimeTable builds the runtimes from --add-runtime, adding runc and crun
// when found and when they can run a container here (a tiny one, see
// oci.Probe; one that cannot is logged with the reason and left out), and
// checks the default is among them.
func runtimeTable(ctx context.Context, add []string, def string) (map[string]string, error) {
	rts := map[string]string{"builtin": "builtin"}
	unusable := map[string]error{}
	for _, name := range []string{"runc", "crun"} {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if err := probeRuntime(ctx, p); err != nil {
			log.Printf("runtime %s not listed: it cannot run a container on this host: %v", name, err)
			unusable[name] = err
			continue
		}
		rts[name] = p
	}
	for _, a := range add {
		name, path, ok := strings.Cut(a, "=")
		if !ok || name == "" || path == "" || name == "builtin" {
			return nil, fmt.Errorf("--add-runtime %q: want NAME=PATH", a)
		}
		rts[name] = path
	}
	if _, ok := rts[def]; !ok {
		if err, ok := unusable[def]; ok {
			return nil, fmt.Errorf("--default-runtime %q cannot run a container on this host: %w", def, err)
		}
		return nil, fmt.Errorf("--default-runtime %q is not a known runtime", def)
	}
	return rts, nil
}

// probeRuntime runs oci.Probe with the binary at path, its state in a
// temporary directory.
func probeRuntime(ctx context.Context, path string) error {
	dir, err := os.MkdirTemp("", "enginefs-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r, err := oci.New(path, oci.WithRoot(filepath.Join(dir, "state")), oci.WithTempDir(dir))
	if err != nil {
		return err
	}
	return r.Probe(ctx)
}

// keeperBinary finds enginefs-keeper: the flag, else beside this binary,
// else in $PATH.
func keeperBinary(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "enginefs-keeper")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("enginefs-keeper")
	if err != nil {
		return "", fmt.Errorf("no enginefs-keeper beside this binary nor in $PATH (use --keeper)")
	}
	return p, nil
}

// run starts every part, serves until ctx is done, then shuts down in the
// reverse order.
func run(ctx context.Context, cfg config) error {
	stateDir, runDir, mountDir, ninepAddrs, debug := cfg.state, cfg.run, cfg.mount, cfg.ninep, cfg.debug
	if err := privateDir(runDir); err != nil {
		return err
	}
	logNofile()
	pidFile := filepath.Join(runDir, "enginefs.pid")
	if pid := livePid(pidFile); pid > 0 {
		return fmt.Errorf("another enginefs (pid %d) uses %s", pid, runDir)
	}
	// The mount point is checked before anything starts: a live mount of
	// another daemon stops this one before it touches the state.
	if mountDir != "" {
		if err := prepareMountpoint(ctx, mountDir); err != nil {
			return err
		}
	}
	images, err := imagestore.New(filepath.Join(stateDir, "images"), append(cfg.imageOpts, imagestore.WithRegistries(cfg.registry.regs))...)
	if err != nil {
		return err
	}
	defer images.Close()
	kc, err := keeper.Connect(ctx, keeper.Options{Binary: cfg.keeper, RunDir: runDir, Runtimes: cfg.runtimes, Idle: cfg.keeperIdle})
	if err != nil {
		return err
	}
	defer kc.Close()
	names := make([]string, 0, len(cfg.runtimes))
	for n := range cfg.runtimes {
		names = append(names, n)
	}
	// Volumes: the local driver keeps them under the state directory;
	// Docker volume plugins answer from the plugin directory.
	localVolumes, err := local.New(filepath.Join(stateDir, "volumes"))
	if err != nil {
		return err
	}
	if cfg.remap != nil {
		// Remapped roots reach their volumes through it (as dockerd's
		// root is 0711 when it remaps).
		if err := os.Chmod(filepath.Join(stateDir, "volumes"), 0o711); err != nil {
			return err
		}
	}
	vols := volume.New(localVolumes, volume.WithPlugins(plugin.NewRegistry(cfg.pluginDir, 0)))
	// Networks: the drivers and the firewall of the flags, and the
	// embedded DNS the manager makes.
	nets := network.New(cfg.net)
	engOpts := []engine.Option{engine.WithRuntimes(cfg.defaultRuntime, names...), engine.WithNetworks(nets), engine.WithVolumes(vols),
		engine.WithLogConfig(cfg.logConfig)}
	if cfg.remap != nil {
		ns, err := cfg.remap.NewUserns()
		if err != nil {
			return fmt.Errorf("--userns-remap: %w", err)
		}
		defer ns.Close()
		engOpts = append(engOpts, engine.WithUsernsRemap(cfg.remap, ns))
		log.Printf("containers run in a user namespace of %s:%s: uids %v, gids %v (userns=host keeps one out)", cfg.remap.User, cfg.remap.Group, cfg.remap.UIDs, cfg.remap.GIDs)
	}
	eng, err := engine.New(ctx, stateDir, images, kc, engOpts...)
	if err != nil {
		return err
	}
	defer func() {
		if err := eng.Close(context.Background()); err != nil {
			log.Print(err)
		}
	}()
	// Builds keep their contexts and downloads in the engine's scratch
	// directory, on the state disk, emptied at each start.
	buildDir := filepath.Join(eng.ScratchDir(), "build")
	if err := os.MkdirAll(buildDir, 0o700); err != nil {
		return err
	}
	bl := builder.New(eng, buildDir)
	defer bl.Close()
	root := tree.New(eng, nets, vols, bl)
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
			if err := ninep.Serve(serveCtx, l, root, ninep.WithLimits(cfg.ninepLimits), ninep.WithLogf(log.Printf)); err != nil && !errors.Is(err, context.Canceled) {
				log.Printf("9P %s: %v", addr, err)
			}
		}()
		log.Printf("serving 9P on %s", addr)
		if strings.HasPrefix(addr, "tcp:") {
			log.Printf("WARNING: 9P on %s has no authentication: any local user or host-network container gets root through it (--insecure-tcp)", addr)
		}
	}
	if cfg.registry.addr != "" {
		stopRegistry, err := serveRegistry(cfg.registry, images)
		if err != nil {
			return err
		}
		defer stopRegistry()
	}
	api := dockerapi.New(fs.Local(root))
	for _, addr := range cfg.docker {
		if addr == "" {
			continue
		}
		l, err := listenDocker(ctx, addr, cfg.tls)
		if err != nil {
			return err
		}
		servers.Add(1)
		go func() {
			defer servers.Done()
			if err := api.Serve(serveCtx, l); err != nil {
				log.Printf("docker API %s: %v", addr, err)
			}
		}()
		log.Printf("serving the Docker API on %s", addr)
	}
	if mountDir != "" {
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
