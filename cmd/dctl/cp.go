package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/errdefs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/fstar"
)

// cpCmd is docker cp: CONTAINER:SRC DEST or SRC CONTAINER:DEST, either
// side "-" for a tar stream, through the tree's containers/<id>/root/.
func (c *cli) cpCmd() *cobra.Command {
	var archive, follow bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  dctl cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcC, srcP := splitCp(args[0])
			dstC, dstP := splitCp(args[1])
			switch {
			case srcC != "" && dstC != "":
				return errors.New("copying between containers is not supported")
			case srcC == "" && dstC == "":
				return errors.New("must specify at least one container source")
			}
			client, err := c.connect(cmd.Context())
			if err != nil {
				return err
			}
			wc, ok := client.(fs.WriteClient)
			if !ok {
				return errors.New("this connection cannot write files")
			}
			if srcC != "" {
				return copyOut(cmd.Context(), wc, srcC, srcP, dstP, archive)
			}
			return copyIn(cmd.Context(), wc, srcP, dstC, dstP, follow)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	fl.BoolVarP(&follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	return cmd
}

// splitCp splits CONTAINER:PATH; a path with no colon, or one that starts
// with "/" or "." (a local path holding a colon), is local.
func splitCp(arg string) (container, p string) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	if i := strings.Index(arg, ":"); i > 0 {
		return arg[:i], arg[i+1:]
	}
	return "", arg
}

// containerRoot checks the container and returns its root/ in the tree.
func containerRoot(ctx context.Context, wc fs.WriteClient, ref string) (string, error) {
	if _, err := fs.ReadAll(ctx, wc, "containers/"+ref+"/status"); err != nil {
		if errdefs.HostClass(err) == errdefs.ErrNotFound {
			return "", fmt.Errorf("No such container: %s", ref)
		}
		return "", err
	}
	return "containers/" + ref + "/root", nil
}

// containerPath is p made absolute, keeping a trailing "/" or "/.".
func containerPath(p string) string {
	out := path.Join("/", p)
	switch {
	case strings.HasSuffix(p, "/."):
		out += "/."
	case strings.HasSuffix(p, "/") && out != "/":
		out += "/"
	}
	return out
}

// target decides where a copy of src (a directory or not, named from
// srcPath) lands given dst: the directory to extract in and the name the
// copy takes there, as docker cp does.
func target(srcIsDir bool, srcPath string, dstExists, dstIsDir bool, dst string) (dir, name string, err error) {
	base := path.Base(path.Clean(srcPath))
	if strings.HasSuffix(srcPath, "/.") {
		base = "."
	}
	switch {
	case srcIsDir && !dstExists:
		return path.Dir(strings.TrimSuffix(dst, "/")), path.Base(dst), nil
	case srcIsDir && !dstIsDir:
		return "", "", fmt.Errorf("cannot copy a directory to a file: %s", dst)
	case srcIsDir || dstIsDir:
		return dst, base, nil
	case strings.HasSuffix(dst, "/"):
		return "", "", fmt.Errorf("no such directory: %s", dst)
	}
	return path.Dir(dst), path.Base(dst), nil
}

// copyOut copies the container path src to the local dst ("-": a tar
// stream on stdout).
func copyOut(ctx context.Context, wc fs.WriteClient, ref, src, dst string, archive bool) error {
	root, err := containerRoot(ctx, wc, ref)
	if err != nil {
		return err
	}
	src = containerPath(src)
	st, rp, err := fstar.Stat(ctx, wc, root, src)
	if err != nil {
		if errdefs.HostClass(err) == errdefs.ErrNotFound {
			return fmt.Errorf("Could not find the file %s in container %s", src, ref)
		}
		return err
	}
	if dst == "-" {
		return fstar.Write(ctx, wc, root, rp, st.Name, os.Stdout)
	}
	abs, err := filepath.Abs(dst)
	if err != nil {
		return err
	}
	if strings.HasSuffix(dst, "/") {
		abs += "/"
	}
	fi, statErr := os.Stat(abs)
	dir, name, err := target(st.Mode.IsDir(), src, statErr == nil, statErr == nil && fi.IsDir(), abs)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(fstar.Write(ctx, wc, root, rp, name, pw)) }()
	err = fstar.Extract(ctx, fs.Mount(dir).(fs.WriteClient), "", pr, fstar.Options{NoChown: !archive})
	pr.CloseWithError(io.ErrClosedPipe)
	return err
}

// copyIn copies the local src ("-": a tar stream on stdin) into the
// container path dst.
func copyIn(ctx context.Context, wc fs.WriteClient, src, ref, dst string, follow bool) error {
	root, err := containerRoot(ctx, wc, ref)
	if err != nil {
		return err
	}
	dst = containerPath(dst)
	notFound := func(p string) error {
		return fmt.Errorf("Could not find the file %s in container %s", p, ref)
	}
	dstSt, drp, err := fstar.Stat(ctx, wc, root, dst)
	dstExists := err == nil
	if err != nil && errdefs.HostClass(err) != errdefs.ErrNotFound {
		return err
	}
	opts := fstar.Options{NoOverwriteDirNonDir: true}
	if src == "-" {
		if !dstExists {
			return notFound(dst)
		}
		if !dstSt.Mode.IsDir() {
			return errors.New("extraction point is not a directory")
		}
		return fstar.Extract(ctx, wc, path.Join(root, drp), os.Stdin, opts)
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	if strings.HasSuffix(src, "/.") {
		abs += "/."
	}
	local := fs.Mount("/").(fs.WriteClient)
	lp := filepath.Clean(abs)
	if follow {
		if lp, err = filepath.EvalSymlinks(lp); err != nil {
			return err
		}
	}
	fi, err := os.Lstat(lp)
	if err != nil {
		return err
	}
	dir, name, err := target(fi.IsDir(), abs, dstExists, dstExists && dstSt.Mode.IsDir(), dst)
	if err != nil {
		return err
	}
	if dir != dst || !dstExists {
		pst, prp, err := fstar.Stat(ctx, wc, root, dir+"/")
		if err != nil {
			if errdefs.HostClass(err) == errdefs.ErrNotFound {
				return notFound(dir)
			}
			return err
		}
		if !pst.Mode.IsDir() {
			return errors.New("extraction point is not a directory")
		}
		dir = prp
	} else {
		dir = drp
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(fstar.Write(ctx, local, "/", lp, name, pw)) }()
	err = fstar.Extract(ctx, wc, path.Join(root, dir), pr, opts)
	pr.CloseWithError(io.ErrClosedPipe)
	return err
}

// diffCmd is docker diff: the tree's changes file.
func (c *cli) diffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := c.connect(cmd.Context())
			if err != nil {
				return err
			}
			data, err := fs.ReadAll(cmd.Context(), client, "containers/"+args[0]+"/changes")
			if err != nil {
				return err
			}
			_, err = os.Stdout.Write(data)
			return err
		},
	}
}

// exportCmd is docker export: the tree's export stream, to stdout or -o.
func (c *cli) exportCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := c.connect(cmd.Context())
			if err != nil {
				return err
			}
			out := os.Stdout
			if output != "" {
				if out, err = os.Create(output); err != nil {
					return err
				}
				defer out.Close()
			}
			h, err := client.Open(cmd.Context(), "containers/"+args[0]+"/export", os.O_RDONLY)
			if err != nil {
				return err
			}
			defer h.Close()
			buf := make([]byte, 1<<20)
			var off int64
			for {
				n, err := h.ReadAt(cmd.Context(), buf, off)
				if n > 0 {
					if _, werr := out.Write(buf[:n]); werr != nil {
						return werr
					}
					off += int64(n)
				}
				if errors.Is(err, io.EOF) {
					return out.Close()
				}
				if err != nil {
					return err
				}
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}
