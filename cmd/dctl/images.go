package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/fs"
)

// imageCmd is `dctl image ...`, docker's management command.
func (c *cli) imageCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage images"}
	ls := c.imagesCmd()
	ls.Use, ls.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"list"}
	rm := c.rmiCmd()
	rm.Use = "rm [OPTIONS] IMAGE [IMAGE...]"
	cmd.AddCommand(ls, rm, c.imageInspectCmd(), c.historyCmd(), c.pullCmd(), c.pushCmd(),
		c.tagCmd(), c.saveCmd(), c.loadCmd(), c.imagePruneCmd())
	return cmd
}

func (c *cli) imagesCmd() *cobra.Command {
	var quiet, digests, noTrunc, all bool
	var formatFlag string
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []image.Summary
			if err := c.readJSON(cmd.Context(), "images/list", &list); err != nil {
				return err
			}
			def := defaultImagesFormat
			if digests {
				def = defaultImagesDigestsFormat
			}
			src := formatFlag
			if quiet {
				src = "{{.ID}}"
			}
			form, err := parseFormat(src, def)
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			parents := map[string]bool{}
			for _, img := range list {
				parents[img.ParentID] = true
			}
			var rows []any
			for _, img := range list {
				if !all && len(img.RepoTags) == 0 && parents[img.ID] {
					continue // an intermediate image of a build, as docker hides it
				}
				tags := img.RepoTags
				if len(tags) == 0 {
					tags = []string{"<none>:<none>"}
				}
				for _, ref := range tags {
					repo, tag := ref[:strings.LastIndex(ref, ":")], ref[strings.LastIndex(ref, ":")+1:]
					if len(args) == 1 && !matchFilter(args[0], repo, tag) {
						continue
					}
					if quiet {
						if seen[img.ID] {
							continue
						}
						seen[img.ID] = true
					}
					rows = append(rows, &imageRow{img: img, repo: repo, tag: tag, trunc: !noTrunc})
				}
			}
			return form.write(os.Stdout, imagesHeader, rows)
		},
	}
	cmd.Flags().StringVar(&formatFlag, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	cmd.Flags().BoolVar(&digests, "digests", false, "show digests")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show all images (default hides intermediate images)")
	return cmd
}

// matchFilter is docker images' REPOSITORY[:TAG] argument.
func matchFilter(f, repo, tag string) bool {
	if hasTag(f) {
		i := strings.LastIndex(f, ":")
		return f[:i] == repo && f[i+1:] == tag
	}
	return f == repo
}

// digestOf finds repo's digest among repo digests, or "<none>".
func digestOf(digests []string, repo string) string {
	for _, d := range digests {
		if r, dg, ok := strings.Cut(d, "@"); ok && r == repo {
			return dg
		}
	}
	return "<none>"
}

func (c *cli) rmiCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client, err := c.connect(ctx)
			if err != nil {
				return err
			}
			failed := false
			for _, ref := range args {
				reply, err := fs.Command(ctx, client, "images/ctl", verbs.Line(verbs.ImageRm{Ref: ref, Force: force}))
				if err != nil {
					fmt.Fprintf(os.Stderr, "Error response from daemon: %s\n", err)
					failed = true
					continue
				}
				if reply != "" {
					fmt.Println(reply)
				}
			}
			if failed {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force removal of the image")
	return cmd
}

func (c *cli) tagCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.imagesCommand(cmd.Context(), verbs.ImageTag{Src: args[0], Dst: args[1]})
		},
	}
}

// imagesCommand runs a line on images/ctl and prints its reply.
func (c *cli) imagesCommand(ctx context.Context, line verbs.Verb) error {
	client, err := c.connect(ctx)
	if err != nil {
		return err
	}
	reply, err := fs.Command(ctx, client, "images/ctl", verbs.Line(line))
	if err != nil {
		return err
	}
	if reply != "" {
		fmt.Println(reply)
	}
	return nil
}

func (c *cli) saveCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := os.Stdout
			if output == "" && term.IsTerminal(int(os.Stdout.Fd())) {
				return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			if output != "" {
				// Written beside and renamed, as docker save -o: a
				// failed save leaves no half archive.
				f, err := os.CreateTemp(filepath.Dir(output), ".dctl-save-*")
				if err != nil {
					return err
				}
				defer os.Remove(f.Name())
				defer f.Close()
				out = f
			}
			if err := c.save(cmd.Context(), args, out); err != nil {
				return err
			}
			if output != "" {
				if err := out.Close(); err != nil {
					return err
				}
				return os.Rename(out.Name(), output)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

// save streams the archive of the images refs through the tree's
// images/save to out: the daemon may be on another host.
func (c *cli) save(ctx context.Context, refs []string, out io.Writer) error {
	client, err := c.connect(ctx)
	if err != nil {
		return err
	}
	h, err := client.Open(ctx, "images/save", os.O_RDWR)
	if err != nil {
		return err
	}
	defer h.Close()
	if _, err := h.WriteAt(ctx, []byte(verbs.Line(verbs.ArchiveSave{Refs: refs})+"\n"), 0); err != nil {
		return c.withMessage(ctx, client, "images/err", err)
	}
	_, err = io.Copy(out, &handleReader{ctx: ctx, h: h})
	return err
}

// withMessage gives err the daemon's message for it, read from the err
// file of the directory (9P carries only the errno).
func (c *cli) withMessage(ctx context.Context, client fs.Client, errFile string, err error) error {
	msg, rerr := fs.ReadAll(ctx, client, errFile)
	if rerr != nil || len(bytes.TrimSpace(msg)) == 0 {
		return err
	}
	return fs.RemoteError(err, strings.TrimSpace(string(msg)))
}

func (c *cli) imagePruneCmd() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				warn := "WARNING! This will remove all dangling images."
				if all {
					warn = "WARNING! This will remove all images without at least one container associated to them."
				}
				fmt.Printf("%s\nAre you sure you want to continue? [y/N] ", warn)
				var answer string
				fmt.Scanln(&answer)
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return nil
				}
			}
			client, err := c.connect(cmd.Context())
			if err != nil {
				return err
			}
			reply, err := fs.Command(cmd.Context(), client, "images/ctl", verbs.Line(verbs.ImagePrune{All: all}))
			if err != nil {
				return err
			}
			var deleted, total []string
			for _, l := range strings.Split(reply, "\n") {
				if strings.HasPrefix(l, "Total") {
					total = append(total, l)
				} else if l != "" {
					deleted = append(deleted, strings.ToLower(l[:1])+l[1:])
				}
			}
			if len(deleted) > 0 {
				fmt.Println("Deleted Images:")
				fmt.Println(strings.Join(deleted, "\n"))
				fmt.Println()
			}
			fmt.Println(strings.Join(total, "\n"))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}

// imageDir resolves an image reference to its by-id directory.
func (c *cli) imageDir(ctx context.Context, ref string) (string, error) {
	client, err := c.connect(ctx)
	if err != nil {
		return "", err
	}
	id, err := fs.Command(ctx, client, "images/ctl", verbs.Line(verbs.ImageResolve{Ref: ref}))
	if err != nil {
		return "", err
	}
	return "images/by-id/" + strings.TrimPrefix(id, "sha256:") + "/", nil
}

const (
	// defaultImagesFormat is docker images' table.
	defaultImagesFormat = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	// defaultImagesDigestsFormat is docker images --digests' table.
	defaultImagesDigestsFormat = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)

// imagesHeader names the columns of images --format table, as docker's.
var imagesHeader = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "CreatedSince": "CREATED",
	"CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS", "VirtualSize": "VIRTUAL SIZE",
	"SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}

// imageRow is one line of images as --format sees it: the fields of
// docker's formatter.ImageContext.
type imageRow struct {
	img       image.Summary
	repo, tag string
	trunc     bool
}

// ID is the image id, 12 hex digits unless --no-trunc.
func (r *imageRow) ID() string {
	if r.trunc {
		return truncID(r.img.ID)
	}
	return r.img.ID
}

// Repository is the repository of the line's tag, <none> for none.
func (r *imageRow) Repository() string { return r.repo }

// Tag is the line's tag, <none> for none.
func (r *imageRow) Tag() string { return r.tag }

// Digest is the repository's digest, <none> without one.
func (r *imageRow) Digest() string { return digestOf(r.img.RepoDigests, r.repo) }

// CreatedSince is how long ago the image was made.
func (r *imageRow) CreatedSince() string {
	return units.HumanDuration(time.Now().UTC().Sub(time.Unix(r.img.Created, 0))) + " ago"
}

// CreatedAt is the creation time in Go's default layout, as docker's.
func (r *imageRow) CreatedAt() string { return time.Unix(r.img.Created, 0).String() }

// Size is the image's size.
func (r *imageRow) Size() string { return units.HumanSizeWithPrecision(float64(r.img.Size), 3) }

// VirtualSize is the size too, as docker's (deprecated) field.
func (r *imageRow) VirtualSize() string { return r.Size() }

// SharedSize is the size shared with other images, N/A when unknown.
func (r *imageRow) SharedSize() string {
	if r.img.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.img.SharedSize))
}

// UniqueSize is the size less the shared one, N/A when unknown.
func (r *imageRow) UniqueSize() string {
	if r.img.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.img.Size - r.img.SharedSize))
}

// Containers counts the image's containers, N/A when unknown.
func (r *imageRow) Containers() string {
	if r.img.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(r.img.Containers, 10)
}

// MarshalJSON is the row as {{json .}} prints it: every field by name.
func (r *imageRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"ID": r.ID(), "Repository": r.Repository(), "Tag": r.Tag(), "Digest": r.Digest(), "CreatedSince": r.CreatedSince(),
		"CreatedAt": r.CreatedAt(), "Size": r.Size(), "VirtualSize": r.VirtualSize(), "SharedSize": r.SharedSize(),
		"UniqueSize": r.UniqueSize(), "Containers": r.Containers(),
	})
}
