// Command dctl is enginefs' docker-like command line. It is a client of the
// file tree: over 9P to a daemon (unix socket by default, -H for another
// address), or through a mounted tree (-H /mnt/engine). On failure it prints
// the daemon's message and exits non-zero.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/enginefs/enginefs/fs"
	"github.com/enginefs/enginefs/fs/ninep"
)

// defaultHost is where the daemon listens for 9P unless told otherwise.
const defaultHost = "unix:/run/enginefs/9p.sock"

// exitError makes dctl exit with a given code without printing anything more
// (a container's exit code passed on by run and wait).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// cli holds the connection the commands share.
type cli struct {
	host   string
	client fs.Client
}

// connect opens the tree: a unix: or tcp: address is 9P, anything else a
// directory where the tree is mounted.
func (c *cli) connect(ctx context.Context) (fs.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	host := c.host
	if host == "" {
		host = os.Getenv("DCTL_HOST")
	}
	if host == "" {
		host = defaultHost
	}
	var err error
	if strings.HasPrefix(host, "unix:") || strings.HasPrefix(host, "tcp:") {
		c.client, err = ninep.Dial(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("cannot connect to the enginefs daemon at %s: %w (is enginefs running?)", host, err)
		}
		return c.client, nil
	}
	if st, err := os.Stat(host); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("-H %s: not a unix:PATH or tcp:HOST:PORT address nor a mounted tree", host)
	}
	c.client = fs.Mount(host)
	return c.client, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	c := &cli{}
	root := &cobra.Command{
		Use:           "dctl [-H ADDR] COMMAND",
		Short:         "A docker-like client for the enginefs file tree",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&c.host, "host", "H", "", "daemon address: unix:PATH, tcp:HOST:PORT or a mounted tree (default $DCTL_HOST or "+defaultHost+")")
	root.AddCommand(
		c.runCmd(), c.createCmd(), c.startCmd(), c.stopCmd(), c.restartCmd(), c.killCmd(), c.rmCmd(),
		c.simple("pause", "Pause all processes within one or more containers", verbs.ContainerPause{}),
		c.simple("unpause", "Unpause all processes within one or more containers", verbs.ContainerResume{}),
		c.waitCmd(), c.logsCmd(), c.psCmd(), c.inspectCmd(), c.renameCmd(), c.updateCmd(),
		c.attachCmd(), c.execCmd(), c.topCmd(), c.statsCmd(), c.containerCmd(),
		c.imagesCmd(), c.loadCmd(), c.versionCmd(), c.infoCmd(), c.systemCmd(),
		c.pullCmd(), c.pushCmd(), c.tagCmd(), c.rmiCmd(), c.saveCmd(), c.historyCmd(), c.imageCmd(),
		c.loginCmd(), c.logoutCmd(),
		c.networkCmd(), c.volumeCmd(),
		c.buildCmd(), c.commitCmd(), c.importCmd(),
		c.cpCmd(), c.diffCmd(), c.exportCmd(), c.portCmd(), c.eventsCmd(),
	)
	err := root.ExecuteContext(ctx)
	if c.client != nil {
		c.client.Close()
	}
	stop()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "Error:", err)
		var ce codeError
		if errors.As(err, &ce) {
			os.Exit(ce.code)
		}
		os.Exit(1)
	}
}

// codeError is an error to print with a specific exit code (125 when run
// could not run the container, as docker does).
type codeError struct {
	error
	code int
}

func (e codeError) Unwrap() error { return e.error }
