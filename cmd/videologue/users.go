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
	"github.com/videologue/videologue/personal"
)

func usersCommand() command {
	return command{name: "users", summary: "manage users: grant or revoke NAME ROLE (analyst, auditor, moderator, admin), erase NAME, list", run: runUsers}
}

func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: videologue users grant NAME ROLE [flags]    give a user a role (an event in the log)\n       videologue users revoke NAME ROLE [flags]   take a role back (an event in the log)\n       videologue users erase NAME --reason TEXT   erase a user's personal data for good (an event in the log)\n       videologue users list [flags]               every user and their roles\n\nFlags:")
		fs.PrintDefaults()
	}
	var c logFlags
	addLogFlags(fs, &c)
	note := fs.String("note", "", "grant, revoke: why, recorded with the event")
	reason := fs.String("reason", "", "erase: the request's reference (a ticket number, not the person's name), recorded with the event")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("missing grant, revoke or list")
	}
	switch pos[0] {
	case "grant", "revoke", "list", "erase":
	default:
		fs.Usage()
		return fmt.Errorf("unknown users command %q", pos[0])
	}
	if pos[0] == "erase" {
		if len(pos) != 2 || *reason == "" {
			return errors.New("usage: videologue users erase NAME --reason TEXT")
		}
	} else if pos[0] != "list" && len(pos) != 3 {
		return fmt.Errorf("usage: videologue users %s NAME ROLE", pos[0])
	}
	users, closeUsers, err := c.openAccounts(ctx, stderr)
	if err != nil {
		return err
	}
	defer closeUsers()
	switch pos[0] {
	case "erase":
		u, err := users.ByUsername(ctx, pos[1])
		if err != nil {
			return fmt.Errorf("user %q: %w", pos[1], err)
		}
		meta := eventstore.Metadata{ClientAddr: "cli", CorrelationID: eventstore.NewID()}
		if err := users.Erase(ctx, u.ID, 0, *reason, meta); err != nil {
			return fmt.Errorf("user %d: %w", u.ID, err)
		}
		fmt.Fprintf(stdout, "erased user %d: now %s\n", u.ID, personal.ErasedUser(u.ID))
		return nil
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
	dataKey, err := dataKeyFromEnv(false)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	keys, _, closeKeys, err := openKeyring(ctx, c.Data, c.Store, dataKey, logger)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	users := accounts.New(store, accounts.Config{Keys: keys}, logger)
	if err := users.Start(ctx); err != nil {
		closeKeys()
		store.Close()
		return nil, nil, err
	}
	return users, func() { users.Close(); store.Close(); closeKeys() }, nil
}
