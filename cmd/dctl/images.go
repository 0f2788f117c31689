package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl"
	"github.com/enginefs/enginefs/fs"
)

type imageEntry struct {
	ID       string   `json:"Id"`
	RepoTags []string `json:"RepoTags"`
	Created  int64    `json:"Created"`
	Size     int64    `json:"Size"`
}

func (c *cli) imagesCmd() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "images [OPTIONS]",
		Short: "List images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []imageEntry
			if err := c.readJSON(cmd.Context(), "images/list", &list); err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
			if !quiet {
				fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
			}
			for _, img := range list {
				id := strings.TrimPrefix(img.ID, "sha256:")[:12]
				if quiet {
					fmt.Fprintln(w, id)
					continue
				}
				created := units.HumanDuration(time.Since(time.Unix(img.Created, 0))) + " ago"
				size := units.HumanSizeWithPrecision(float64(img.Size), 3)
				tags := img.RepoTags
				if len(tags) == 0 {
					tags = []string{"<none>:<none>"}
				}
				for _, ref := range tags {
					i := strings.LastIndex(ref, ":")
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", ref[:i], ref[i+1:], id, created, size)
				}
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	return cmd
}

func (c *cli) loadCmd() *cobra.Command {
	var input string
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive (docker-save or OCI) or STDIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client, err := c.connect(ctx)
			if err != nil {
				return err
			}
			// The daemon reads the archive by path, so it must see the
			// client's files (a local daemon); stdin goes through a
			// temporary file.
			path := input
			if path == "" {
				f, err := os.CreateTemp("", "dctl-load-*.tar")
				if err != nil {
					return err
				}
				defer os.Remove(f.Name())
				if _, err := io.Copy(f, os.Stdin); err != nil {
					f.Close()
					return fmt.Errorf("reading the archive from stdin: %w", err)
				}
				if err := f.Close(); err != nil {
					return err
				}
				path = f.Name()
			}
			if path, err = filepath.Abs(path); err != nil {
				return err
			}
			reply, err := fs.Command(ctx, client, "images/ctl", ctl.Command{Verb: "load", Args: []string{path}}.String())
			if err != nil {
				return err
			}
			fmt.Println(reply)
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a tar archive file instead of STDIN")
	return cmd
}
