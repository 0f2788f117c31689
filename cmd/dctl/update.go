package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
)

// updateCmd is docker update: the flags are verbs.ContainerUpdate's, written
// as an update line on each container's ctl.
func (c *cli) updateCmd() *cobra.Command {
	var v verbs.ContainerUpdate
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if verbs.Line(v) == v.Verb() {
				return fmt.Errorf("you must provide one or more flags when using this command")
			}
			return c.each(cmd, args, v, false)
		},
	}
	fl := cmd.Flags()
	for _, d := range verbs.Flags(&v) {
		p, ok := d.Value.(*string)
		if !ok {
			panic(fmt.Sprintf("update flag %s: a %T", d.Name, d.Value))
		}
		fl.StringVarP(p, d.Name, d.Shorthand, "", d.Help)
	}
	return cmd
}
