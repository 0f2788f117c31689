package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/imagestore/imageref"
)

func (c *cli) pullCmd() *cobra.Command {
	var platform string
	var quiet, all bool
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all {
				return errors.New("--all-tags is not supported")
			}
			return c.pull(cmd.Context(), args[0], platform, quiet, os.Stdout, true)
		},
	}
	cmd.Flags().StringVar(&platform, "platform", "", "set platform if server is multi-platform capable (os/arch[/variant])")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	cmd.Flags().BoolVarP(&all, "all-tags", "a", false, "download all tagged images in the repository (not supported)")
	return cmd
}

// pull pulls ref as docker pull does, rendering the progress on out and,
// with final, ending with the reference's full name.
func (c *cli) pull(ctx context.Context, ref, platform string, quiet bool, out *os.File, final bool) error {
	r, err := imageref.Parse(ref)
	if err != nil {
		return err
	}
	if !strings.Contains(ref, "@") && !hasTag(ref) && !quiet && final {
		fmt.Fprintln(out, "Using default tag: latest")
	}
	if _, err := c.transfer(ctx, "pulls", verbs.ImagePull{Ref: ref, Platform: platform}, out, quiet); err != nil {
		return err
	}
	if final {
		// docker's full name: docker.io, not go-containerregistry's
		// index.docker.io.
		fmt.Fprintln(out, strings.Replace(r.Name(), name.DefaultRegistry+"/", "docker.io/", 1))
	}
	return nil
}

// hasTag reports whether a reference names a tag.
func hasTag(ref string) bool {
	i := strings.LastIndex(ref, ":")
	return i >= 0 && !strings.Contains(ref[i:], "/")
}

func (c *cli) pushCmd() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := args[0]
			if !hasTag(ref) {
				if !quiet {
					fmt.Println("Using default tag: latest")
				}
				ref += ":latest"
			}
			reply, err := c.transfer(cmd.Context(), "pushes", verbs.ImagePush{Ref: ref}, os.Stdout, quiet)
			if err != nil {
				return err
			}
			if quiet {
				fmt.Println(ref)
			}
			_ = reply
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	return cmd
}

// transfer runs a pull or push as a job of images/<kind>: it takes a job
// from clone, follows its progress file while the job runs and renders it
// as docker does (bars on a terminal, status lines otherwise), and returns
// the job's reply or error.
func (c *cli) transfer(ctx context.Context, kind string, line verbs.Verb, out *os.File, quiet bool) (string, error) {
	client, err := c.connect(ctx)
	if err != nil {
		return "", err
	}
	h, err := client.Open(ctx, "images/"+kind+"/clone", os.O_RDWR)
	if err != nil {
		return "", err
	}
	defer h.Close()
	nb, err := fs.ReadHandle(ctx, h)
	if err != nil {
		return "", err
	}
	n := strings.TrimSpace(string(nb))
	rendered := make(chan struct{})
	if quiet {
		close(rendered)
	} else {
		prog, err := client.Open(ctx, "images/"+kind+"/"+n+"/progress", os.O_RDONLY)
		if err != nil {
			return "", err
		}
		go func() {
			defer close(rendered)
			defer prog.Close()
			fd := out.Fd()
			// Errors are reported by the ctl write; the stream's copy
			// of the error is not printed twice.
			_ = jsonmessage.DisplayJSONMessagesStream(&handleReader{ctx: ctx, h: prog}, out, fd, term.IsTerminal(int(fd)), nil)
		}()
	}
	reply, err := fs.WriteCommand(ctx, h, verbs.Line(line))
	<-rendered
	return reply, err
}

// handleReader reads an open tree file from its start, in order.
type handleReader struct {
	ctx context.Context
	h   fs.Handle
	off int64
}

func (r *handleReader) Read(p []byte) (int, error) {
	n, err := r.h.ReadAt(r.ctx, p, r.off)
	r.off += int64(n)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil // the rest next time
	}
	return n, err
}
