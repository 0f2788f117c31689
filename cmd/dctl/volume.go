package main

import "github.com/spf13/cobra"

func (c *cli) volumeCmd() *cobra.Command {
	return &cobra.Command{Use: "volume", Short: "Manage volumes"}
}
