package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

func versionCommand() command {
	return command{name: "version", summary: "print the version and the source revision this binary was built from", run: runVersion}
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(stdout, "videologue (no build information)")
		return nil
	}
	fmt.Fprintln(stdout, versionLine(info))
	return nil
}

// versionLine says which build this is: the module's version (a tag when
// installed with go install; "(devel)" from a checkout), the VCS
// revision, its time and whether the tree had local changes, and the Go
// release.
func versionLine(info *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	parts := []string{"videologue", info.Main.Version}
	if rev := settings["vcs.revision"]; rev != "" {
		r := "revision " + rev
		if t := settings["vcs.time"]; t != "" {
			r += " of " + t
		}
		if settings["vcs.modified"] == "true" {
			r += ", with local changes"
		}
		parts = append(parts, "("+r+")")
	}
	parts = append(parts, info.GoVersion)
	return strings.Join(parts, " ")
}
