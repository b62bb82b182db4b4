package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestHelpCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"help", "serve"}, 0, "-addr"},
		{[]string{"help", "users"}, 0, "users revoke NAME ROLE"},
		{[]string{"help", "backup"}, 0, "-to"},
		{[]string{"help"}, 0, "Commands:"},
		{[]string{"help", "nope"}, 2, `unknown command "nope"`},
	} {
		var out, errOut bytes.Buffer
		code := run(t.Context(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut.String(), tc.code, tc.want)
		}
	}
	// help serve says no more than serve -h.
	var a, b bytes.Buffer
	run(t.Context(), []string{"help", "serve"}, &bytes.Buffer{}, &a)
	run(t.Context(), []string{"serve", "-h"}, &bytes.Buffer{}, &b)
	if a.String() != b.String() {
		t.Errorf("help serve printed %q, serve -h %q", a.String(), b.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "videologue ") {
		t.Fatalf("version: exit %d, %q, %q", code, out.String(), errOut.String())
	}
	info := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2025-03-01T12:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	if got, want := versionLine(info), "videologue v1.2.3 (revision 0123abcd of 2025-03-01T12:00:00Z, with local changes) go1.26.0"; got != want {
		t.Errorf("versionLine = %q, want %q", got, want)
	}
	if got, want := versionLine(&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}), "videologue (devel) go1.26.0"; got != want {
		t.Errorf("versionLine without VCS = %q, want %q", got, want)
	}
}
