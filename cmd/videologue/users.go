package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/videologue/videologue/accounts"
	"github.com/videologue/videologue/domain"
	"github.com/videologue/videologue/eventstore"
)

func usersCommand() command {
	return command{name: "users", summary: "manage users: grant or revoke NAME ROLE (analyst, auditor, moderator, admin), list", run: runUsers}
}

func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: videologue users grant NAME ROLE [flags]    give a user a role (an event in the log)\n       videologue users revoke NAME ROLE [flags]   take a role back (an event in the log)\n       videologue users list [flags]               every user and their roles\n\nFlags:")
		fs.PrintDefaults()
	}
	var c logFlags
	addLogFlags(fs, &c)
	note := fs.String("note", "", "grant, revoke: why, recorded with the event")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("missing grant, revoke or list")
	}
	switch pos[0] {
	case "grant", "revoke", "list":
	default:
		fs.Usage()
		return fmt.Errorf("unknown users command %q", pos[0])
	}
	if pos[0] != "list" && len(pos) != 3 {
		return fmt.Errorf("usage: videologue users %s NAME ROLE", pos[0])
	}
	users, closeUsers, err := c.openAccounts(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeUsers()
	switch pos[0] {
	case "grant", "revoke":
		role, err := domain.ParseRole(pos[2])
		if err != nil {
			return err
		}
		u, err := users.ByUsername(ctx, pos[1])
		if err != nil {
			return fmt.Errorf("user %q: %w", pos[1], err)
		}
		// The command line acts as the system (user 0): whoever reaches
		// it owns the machine.
		meta := eventstore.Metadata{ClientAddr: "cli", CorrelationID: eventstore.NewID()}
		if pos[0] == "grant" {
			if err := users.Grant(ctx, u.ID, role, 0, *note, meta); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "granted %s to %s (user %d)\n", role, u.Username, u.ID)
			return nil
		}
		if err := users.Revoke(ctx, u.ID, role, 0, *note, meta); err != nil {
			return fmt.Errorf("%s (user %d): %w", u.Username, u.ID, err)
		}
		fmt.Fprintf(stdout, "revoked %s from %s (user %d)\n", role, u.Username, u.ID)
		return nil
	default:
		for _, u := range users.List(ctx) {
			var roles []string
			for r := range u.Roles {
				roles = append(roles, string(r))
			}
			slices.Sort(roles)
			fmt.Fprintf(stdout, "%d\t%s\t%s\n", u.ID, u.Username, strings.Join(append([]string{"viewer"}, roles...), ","))
		}
		return nil
	}
}

// openAccounts returns the users folded from the log: inside a server,
// the server's own.
func (c *logFlags) openAccounts(ctx context.Context, stderr io.Writer) (*accounts.Service, func(), error) {
	if env := serverFrom(ctx); env != nil {
		return env.accounts, func() {}, nil
	}
	logger := toolLogger(stderr)
	store, err := c.openLog(ctx, logger)
	if err != nil {
		return nil, nil, err
	}
	users := accounts.New(store, accounts.Config{}, logger)
	if err := users.Start(ctx); err != nil {
		store.Close()
		return nil, nil, err
	}
	return users, func() { users.Close(); store.Close() }, nil
}
