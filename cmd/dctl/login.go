package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/enginefs/enginefs/ctl/verbs"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (c *cli) loginCmd() *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry (the daemon keeps the credentials in its config.json)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stdinTerm := term.IsTerminal(int(os.Stdin.Fd()))
			switch {
			case password != "" && passwordStdin:
				return fmt.Errorf("--password and --password-stdin are mutually exclusive")
			case passwordStdin && user == "":
				return fmt.Errorf("must provide --username with --password-stdin")
			case password != "":
				fmt.Fprintln(os.Stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			in := bufio.NewReader(os.Stdin)
			if user == "" {
				if !stdinTerm {
					return fmt.Errorf("cannot perform an interactive login from a non TTY device")
				}
				fmt.Print("Username: ")
				l, err := in.ReadString('\n')
				if err != nil {
					return err
				}
				user = strings.TrimSpace(l)
			}
			switch {
			case passwordStdin:
				b, err := io.ReadAll(in)
				if err != nil {
					return err
				}
				password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			case password == "":
				if !stdinTerm {
					return fmt.Errorf("cannot perform an interactive login from a non TTY device")
				}
				fmt.Print("Password: ")
				b, err := term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Println()
				if err != nil {
					return err
				}
				password = string(b)
			}
			line := verbs.ImageLogin{User: user, Password: password}
			if len(args) > 0 {
				line.Server = args[0]
			}
			return c.imagesCommand(cmd.Context(), line)
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "username")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "take the password from stdin")
	return cmd
}

func (c *cli) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var line verbs.ImageLogout
			if len(args) > 0 {
				line.Server = args[0]
			}
			return c.imagesCommand(cmd.Context(), line)
		},
	}
}
