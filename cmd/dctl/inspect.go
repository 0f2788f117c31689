package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/docker/docker/api/types/container"
	"github.com/spf13/cobra"

	"github.com/docker/cli/templates"
)

func (c *cli) inspectCmd() *cobra.Command {
	var formatFlag string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Return low-level information on containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var docs []json.RawMessage
			for _, ref := range args {
				dir, err := containerDir(ref)
				if err != nil {
					return err
				}
				var doc json.RawMessage
				if err := c.readJSON(ctx, dir+"inspect", &doc); err != nil {
					return notFound(err, ref)
				}
				if size {
					if doc, err = c.withSize(ctx, dir, doc); err != nil {
						return err
					}
				}
				docs = append(docs, doc)
			}
			if formatFlag == "" || formatFlag == jsonKey {
				out, err := json.MarshalIndent(docs, "", "    ")
				if err != nil {
					return err
				}
				fmt.Println(string(out))
				return nil
			}
			return inspectFormat(formatFlag, docs)
		},
	}
	cmd.Flags().StringVarP(&formatFlag, "format", "f", "", "format output using a custom template: 'json' or a Go template")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "display total file sizes")
	return cmd
}

// withSize adds SizeRw and SizeRootFs of the container's size file to its
// inspect document, as docker inspect -s.
func (c *cli) withSize(ctx context.Context, dir string, doc json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	var sz map[string]json.RawMessage
	if err := c.readJSON(ctx, dir+"size", &sz); err != nil {
		return nil, err
	}
	for _, k := range []string{"SizeRw", "SizeRootFs"} {
		m[k] = sz[k]
	}
	return json.Marshal(m)
}

// inspectFormat prints each document through the template, a line each,
// as docker inspect -f does: the template runs on docker's typed inspect
// response, and on the raw JSON when that fails (a field the type lacks).
func inspectFormat(src string, docs []json.RawMessage) error {
	tmpl, err := templates.Parse(src)
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	var out bytes.Buffer
	for _, doc := range docs {
		var typed container.InspectResponse
		var buf bytes.Buffer
		err := json.Unmarshal(doc, &typed)
		if err == nil {
			err = tmpl.Execute(&buf, typed)
		}
		if err != nil {
			buf.Reset()
			var raw any
			dec := json.NewDecoder(bytes.NewReader(doc))
			dec.UseNumber()
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			if err := tmpl.Execute(&buf, raw); err != nil {
				return fmt.Errorf("template: %w", err)
			}
		}
		out.Write(buf.Bytes())
		out.WriteByte('\n')
	}
	_, err = out.WriteTo(os.Stdout)
	return err
}
