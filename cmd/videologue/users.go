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
	return command{name: "users", summary: "manage users: grant NAME ROLE (viewer, analyst, auditor, admin), list", run: runUsers}
}

func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: videologue users grant NAME ROLE [flags]   give a user a role (an event in the log)\n       videologue users list [flags]              every user and their roles\n\nFlags:")
		fs.PrintDefaults()
	}
	var c logFlags
	addLogFlags(fs, &c)
	note := fs.String("note", "", "grant: why, recorded with the grant")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("missing grant or list")
	}
	logger := toolLogger(stderr)
	store, err := c.openLog(ctx, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	users := accounts.New(store, accounts.Config{}, logger)
	if err := users.Start(ctx); err != nil {
		return err
	}
	defer users.Close()
	switch pos[0] {
	case "grant":
		if len(pos) != 3 {
			return errors.New("usage: videologue users grant NAME ROLE")
		}
		role, err := domain.ParseRole(pos[2])
		if err != nil {
			return err
		}
		u, err := users.ByUsername(ctx, pos[1])
		if err != nil {
			return fmt.Errorf("user %q: %w", pos[1], err)
		}
		if err := users.Grant(ctx, u.ID, role, 0, *note, eventstore.Metadata{ClientAddr: "cli", CorrelationID: eventstore.NewID()}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "granted %s to %s (user %d)\n", role, u.Username, u.ID)
		return nil
	case "list":
		for _, u := range users.List(ctx) {
			var roles []string
			for r := range u.Roles {
				roles = append(roles, string(r))
			}
			slices.Sort(roles)
			fmt.Fprintf(stdout, "%d\t%s\t%s\n", u.ID, u.Username, strings.Join(append([]string{"viewer"}, roles...), ","))
		}
		return nil
	default:
		fs.Usage()
		return fmt.Errorf("unknown users command %q", pos[0])
	}
}
