package main

import (
	"encoding/json"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The image and the compose file listen on every interface, so they run
// in production mode: without a secret of their own they do not start.
func TestContainersRunInProduction(t *testing.T) {
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("no CMD [...] in the Dockerfile")
	}
	var cmd []string
	if err := json.Unmarshal(m[1], &cmd); err != nil || len(cmd) == 0 || cmd[0] != "serve" {
		t.Fatalf("Dockerfile CMD %s: %v", m[1], err)
	}
	t.Setenv("VIDEOLOGUE_SECRET", "")
	t.Setenv("VIDEOLOGUE_PUBLIC_URL", "")
	if _, err := parseServe(cmd[1:], io.Discard); err == nil || !strings.Contains(err.Error(), "VIDEOLOGUE_SECRET") {
		t.Fatalf("the image's command without a secret: %v, want a refusal naming VIDEOLOGUE_SECRET", err)
	}
	t.Setenv("VIDEOLOGUE_SECRET", strongSecret)
	t.Setenv("VIDEOLOGUE_DATA_KEY", strongDataKey)
	t.Setenv("VIDEOLOGUE_PUBLIC_URL", "https://v.example")
	if c, err := parseServe(cmd[1:], io.Discard); err != nil || c.Env != "prod" {
		t.Fatalf("the image's command with a secret: %+v, %v", c, err)
	}

	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(compose)
	if n := strings.Count(text, "- serve\n"); n == 0 || strings.Count(text, "- --env=prod\n") != n {
		t.Fatalf("docker-compose.yml: %d serve commands, %d with --env=prod", n, strings.Count(text, "- --env=prod\n"))
	}
	secrets := regexp.MustCompile(`(?m)^\s+VIDEOLOGUE_SECRET: (.*)$`).FindAllStringSubmatch(text, -1)
	if len(secrets) == 0 {
		t.Fatal("docker-compose.yml passes no VIDEOLOGUE_SECRET")
	}
	for _, s := range secrets {
		if !strings.HasPrefix(s[1], `"${VIDEOLOGUE_SECRET:?`) {
			t.Fatalf("docker-compose.yml: VIDEOLOGUE_SECRET: %s; it must be required (${VIDEOLOGUE_SECRET:?...})", s[1])
		}
	}
}
