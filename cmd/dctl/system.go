package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sort"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/version"
)

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the client and daemon versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Printf("Client: dctl %s %s %s/%s\n", version.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			client, err := c.connect(cmd.Context())
			if err != nil {
				return err
			}
			v, err := fs.ReadAll(cmd.Context(), client, "version")
			if err != nil {
				return err
			}
			fmt.Printf("Server: %s", v)
			return nil
		},
	}
}

func (c *cli) infoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var info map[string]any
			if err := c.readJSON(cmd.Context(), "info", &info); err != nil {
				return err
			}
			keys := make([]string, 0, len(info))
			for k := range info {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v, _ := json.Marshal(info[k])
				fmt.Printf("%s: %s\n", k, v)
			}
			return nil
		},
	}
}
