// Command videologue runs Videologue and its tools:
//
//	videologue serve [flags]    run the server
//	videologue help [command]   the commands, or one command's flags
//
// Each subcommand lives in its own file and is listed once in commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is a subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands, one line each.
func commands() []command {
	return []command{
		serveCommand(),
		projectionsCommand(),
		replayCommand(),
		auditCommand(),
		usersCommand(),
		backupCommand(),
		restoreCommand(),
		logCommand(),
		versionCommand(),
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 2 && args[0] == "help" {
		// help CMD is CMD -h: the command prints its own usage.
		args = []string{args[1], "-h"}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 || len(args) > 1 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var fwd *errForward
		if errors.As(err, &fwd) {
			if fwd.args != nil {
				args = fwd.args
			}
			code, err := forward(ctx, fwd.socket, args, stdout, stderr)
			if err != nil {
				fmt.Fprintf(stderr, "videologue %s: %v\n", c.name, err)
			}
			return code
		}
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		default:
			fmt.Fprintf(stderr, "videologue %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "videologue: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: videologue <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'videologue help <command>' for a command's flags.")
}
