package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/fs"
)

func (c *cli) historyCmd() *cobra.Command {
	var human, noTrunc, quiet bool
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			dir, err := c.imageDir(ctx, args[0])
			if err != nil {
				return err
			}
			var items []image.HistoryResponseItem
			if err := c.readJSON(ctx, dir+"history", &items); err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
			if !quiet {
				fmt.Fprintln(w, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
			}
			for _, it := range items {
				id := it.ID
				if !noTrunc && strings.HasPrefix(id, "sha256:") {
					id = strings.TrimPrefix(id, "sha256:")[:12]
				}
				if quiet {
					fmt.Fprintln(w, id)
					continue
				}
				created := time.Unix(it.Created, 0).Format(time.RFC3339)
				size := strconv.FormatInt(it.Size, 10)
				if human {
					created = units.HumanDuration(time.Since(time.Unix(it.Created, 0))) + " ago"
					size = units.HumanSizeWithPrecision(float64(it.Size), 3)
				}
				by := strings.ReplaceAll(it.CreatedBy, "\t", " ")
				if !noTrunc && len([]rune(by)) > 45 {
					by = string([]rune(by)[:44]) + "…"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", id, created, by, size, it.Comment)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&human, "human", true, "print sizes and dates in human readable format (docker's -H; here -H is the daemon address)")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	return cmd
}

func (c *cli) imageInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client, err := c.connect(ctx)
			if err != nil {
				return err
			}
			docs := []json.RawMessage{}
			var failed error
			for _, ref := range args {
				dir, err := c.imageDir(ctx, ref)
				if err == nil {
					var b []byte
					if b, err = fs.ReadAll(ctx, client, dir+"inspect"); err == nil {
						docs = append(docs, b)
					}
				}
				if err != nil {
					failed = err
				}
			}
			out, err := json.MarshalIndent(docs, "", "    ")
			if err != nil {
				return err
			}
			fmt.Println(string(out))
			return failed
		},
	}
}
