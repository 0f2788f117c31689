package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/enginefs/enginefs/builder/buildctx"
	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/fs"
)

// buildFlags are docker build's flags, by the ctl key they become.
type buildFlags struct {
	tags, buildArgs, labels, cacheFrom, ulimits []string
	file, target, network, platform             string
	memory, memorySwap, cpusetCpus, shmSize     string
	cpuShares, cpuPeriod, cpuQuota              int64
	noCache, pull, quiet, rm, forceRm           bool
}

func (c *cli) buildCmd() *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.rm {
				return errors.New("--rm=false is not supported: a build removes its containers")
			}
			return c.build(cmd.Context(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, `name and optionally a tag in the "name:tag" format`)
	fl.StringVarP(&f.file, "file", "f", "", `name of the Dockerfile (default "PATH/Dockerfile"; "-" reads it from STDIN)`)
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "set build-time variables")
	fl.StringArrayVar(&f.labels, "label", nil, "set metadata for an image")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "images to consider as cache sources")
	fl.StringArrayVar(&f.ulimits, "ulimit", nil, "ulimit options")
	fl.StringVar(&f.target, "target", "", "set the target build stage to build")
	fl.StringVar(&f.network, "network", "", `set the networking mode for the RUN instructions during build (default "default")`)
	fl.StringVar(&f.platform, "platform", "", "set platform if server is multi-platform capable")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit")
	fl.StringVar(&f.memorySwap, "memory-swap", "", `swap limit equal to memory plus swap: -1 to enable unlimited swap`)
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.StringVar(&f.shmSize, "shm-size", "", "size of /dev/shm")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.Int64Var(&f.cpuPeriod, "cpu-period", 0, "limit the CPU CFS (Completely Fair Scheduler) period")
	fl.Int64Var(&f.cpuQuota, "cpu-quota", 0, "limit the CPU CFS (Completely Fair Scheduler) quota")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use cache when building the image")
	fl.BoolVar(&f.pull, "pull", false, "always attempt to pull a newer version of the image")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "suppress the build output and print image ID on success")
	fl.BoolVar(&f.rm, "rm", true, "remove intermediate containers after a successful build")
	fl.BoolVar(&f.forceRm, "force-rm", false, "always remove intermediate containers (a build always does)")
	return cmd
}

// line is the build line of the flags, with the Dockerfile's name in the
// context; empty values are left out.
func (f buildFlags) line(dockerfile string) verbs.Build {
	b := verbs.Build{Tags: nonEmpty(f.tags), Label: nonEmpty(f.labels), CacheFrom: nonEmpty(f.cacheFrom),
		Ulimit: nonEmpty(f.ulimits), File: dockerfile, Target: f.target, Network: f.network, Platform: f.platform,
		Memory: f.memory, MemorySwap: f.memorySwap, CpusetCPUs: f.cpusetCpus, ShmSize: f.shmSize,
		NoCache: f.noCache, Pull: f.pull, Quiet: f.quiet}
	for _, a := range nonEmpty(f.buildArgs) {
		// As docker: --build-arg NAME takes NAME's value from the
		// environment, or names it unset.
		if !strings.Contains(a, "=") {
			if v, ok := os.LookupEnv(a); ok {
				a += "=" + v
			}
		}
		b.BuildArg = append(b.BuildArg, a)
	}
	for _, n := range []struct {
		v   int64
		dst *string
	}{{f.cpuShares, &b.CPUShares}, {f.cpuPeriod, &b.CPUPeriod}, {f.cpuQuota, &b.CPUQuota}} {
		if n.v != 0 {
			*n.dst = strconv.FormatInt(n.v, 10)
		}
	}
	return b
}

// nonEmpty returns the words of list that are not empty.
func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// build sends the context to a job of /builds, starts it and shows its
// progress as docker build does; it ends with the build's exit code
// (a failed RUN's, or 1).
func (c *cli) build(ctx context.Context, path string, f buildFlags) error {
	client, err := c.connect(ctx)
	if err != nil {
		return err
	}
	tarStream, dockerfile, err := contextTar(ctx, path, f.file)
	if err != nil {
		return err
	}
	defer tarStream.Close()
	n, err := newBuild(ctx, client, f.line(dockerfile))
	if err != nil {
		return err
	}
	dir := "builds/" + n + "/"
	ctlH, err := client.Open(ctx, dir+"ctl", os.O_RDWR)
	if err != nil {
		return err
	}
	defer ctlH.Close()
	sent, err := sendFile(ctx, client, dir+"context", tarStream)
	if err != nil {
		_, _ = fs.WriteCommand(context.WithoutCancel(ctx), ctlH, verbs.Line(verbs.BuildCancel{}))
		return err
	}
	if !f.quiet {
		fmt.Printf("Sending build context to Docker daemon  %s\n", units.HumanSizeWithPrecision(float64(sent), 4))
	}
	prog, err := client.Open(ctx, dir+"progress", os.O_RDONLY)
	if err != nil {
		return err
	}
	defer prog.Close()
	if _, err := fs.WriteCommand(ctx, ctlH, verbs.Line(verbs.BuildStart{})); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		_, _ = fs.WriteCommand(context.WithoutCancel(ctx), ctlH, verbs.Line(verbs.BuildCancel{}))
	})
	defer stop()
	out := os.Stdout
	var idLine string
	aux := func(m jsonmessage.JSONMessage) {}
	r := io.Reader(&handleReader{ctx: context.WithoutCancel(ctx), h: prog})
	if f.quiet {
		// The quiet stream holds the image id alone, or the errors.
		var buf bytes.Buffer
		err = jsonmessage.DisplayJSONMessagesStream(r, &buf, 0, false, aux)
		idLine = buf.String()
	} else {
		err = jsonmessage.DisplayJSONMessagesStream(r, out, out.Fd(), term.IsTerminal(int(out.Fd())), aux)
	}
	var je *jsonmessage.JSONError
	if errors.As(err, &je) {
		fmt.Fprintln(os.Stderr, je.Message)
		code := je.Code
		if code == 0 {
			code = 1
		}
		return exitError{code}
	}
	if err != nil {
		return err
	}
	if f.quiet {
		fmt.Print(idLine)
	}
	return nil
}

// newBuild takes a job from builds/clone and writes its options line, a
// verbs.Build or a verbs.Import.
func newBuild(ctx context.Context, client fs.Client, line verbs.Verb) (string, error) {
	h, err := client.Open(ctx, "builds/clone", os.O_RDWR)
	if err != nil {
		return "", err
	}
	defer h.Close()
	nb, err := fs.ReadHandle(ctx, h)
	if err != nil {
		return "", err
	}
	if _, err := fs.WriteCommand(ctx, h, verbs.Line(line)); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(nb)), nil
}

// sendFile writes r into the tree file name, at increasing offsets, and
// returns how much it wrote. On failure it drops what it wrote.
func sendFile(ctx context.Context, client fs.Client, name string, r io.Reader) (int64, error) {
	h, err := client.Open(ctx, name, os.O_WRONLY)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	buf := make([]byte, 256<<10)
	var off int64
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if _, err := h.WriteAt(ctx, buf[:n], off); err != nil {
				_ = fs.TruncateHandle(context.WithoutCancel(ctx), h, 0)
				return off, err
			}
			off += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return off, nil
		}
		if rerr != nil {
			_ = fs.TruncateHandle(context.WithoutCancel(ctx), h, 0)
			return off, rerr
		}
	}
}

// contextTar returns the context to send and the Dockerfile's name in it:
// PATH's tar, honouring its .dockerignore, with the Dockerfile of -f
// added when it lies outside PATH (or comes from STDIN with -f -); or,
// for PATH "-", STDIN: a tar (maybe compressed) sent as it is, or a
// Dockerfile alone.
func contextTar(ctx context.Context, path, file string) (io.ReadCloser, string, error) {
	if path == "-" {
		if file == "-" {
			return nil, "", errors.New("invalid argument: can't use stdin for both build context and dockerfile")
		}
		br := bufio.NewReader(os.Stdin)
		head, _ := br.Peek(512)
		if isArchive(head) {
			return io.NopCloser(br), file, nil
		}
		df, err := io.ReadAll(br)
		if err != nil {
			return nil, "", err
		}
		return tarOf(map[string][]byte{"Dockerfile": df}), "Dockerfile", nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("unable to prepare context: %w", err)
	}
	if !st.IsDir() {
		return nil, "", fmt.Errorf("unable to prepare context: path %q is not a directory", path)
	}
	dockerfile := "Dockerfile"
	var extra []byte
	switch {
	case file == "-":
		if extra, err = io.ReadAll(os.Stdin); err != nil {
			return nil, "", err
		}
	case file != "":
		abs, _ := filepath.Abs(file)
		dir, _ := filepath.Abs(path)
		if rel, err := filepath.Rel(dir, abs); err == nil && !strings.HasPrefix(rel, "..") {
			dockerfile = filepath.ToSlash(rel)
		} else if extra, err = os.ReadFile(file); err != nil {
			return nil, "", fmt.Errorf("unable to prepare context: %w", err)
		}
	}
	if extra != nil {
		var b [8]byte
		rand.Read(b[:])
		dockerfile = ".dockerfile." + hex.EncodeToString(b[:])
	}
	pr, pw := io.Pipe()
	go func() {
		err := buildctx.TarDirWith(ctx, path, dockerfile, map[string][]byte{dockerfile: extra}, pw)
		pw.CloseWithError(err)
	}()
	return pr, dockerfile, nil
}

// isArchive reports whether a stream starts as a tar or a compressed
// file does.
func isArchive(head []byte) bool {
	for _, m := range [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// tarOf is a tar of the files given.
func tarOf(files map[string][]byte) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(buildctx.WriteFiles(pw, files)) }()
	return pr
}
