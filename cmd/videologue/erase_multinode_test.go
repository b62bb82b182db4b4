package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/videologue/videologue/internal/testenv/pgtest"
)

// On PostgreSQL the key store is a table every node shares: a user who
// posts through one node and erases their account there is shown erased
// at once to a viewer on another node, and the key's row is gone.
func TestEraseAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two servers")
	}
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	bin := buildServer(t)
	a := startNode(t, bin, "node-a", url+sep+"schema="+schema)
	b := startNode(t, bin, "node-b", url+sep+"schema="+schema)

	aliceID, aliceToken := register(t, a, "zqmulti")
	_, bobToken := register(t, b, "bob")
	video := httpJSON(t, a.addr, "/api/videos", aliceToken, map[string]string{"title": "shared", "url": "https://example.com/v.mp4"})
	topic := "videos:" + strconv.FormatInt(int64(video["id"].(float64)), 10)
	ca := dialPhx(t, a.addr, aliceToken, topic)
	ref := ca.join(t, map[string]any{})
	cb := dialPhx(t, b.addr, bobToken, topic)
	cb.join(t, map[string]any{})
	for i := range 3 {
		ca.push(t, ref, "new_annotation", map[string]any{"body": "zq across " + strconv.Itoa(i), "at": i})
	}
	waitSeen(t, cb, 3, "the viewer on node B to see the posts made through node A")

	if code := eraseMe(t, a.addr, aliceToken, "password-123"); code != http.StatusNoContent {
		t.Fatalf("DELETE /api/users/me: %d", code)
	}
	waitFor(t, 10*time.Second, "the viewer on node B to see the annotations erased", func() bool {
		texts := cb.textsNow()
		for _, text := range texts {
			if text != "erased user #"+aliceID+": [erased]" {
				return false
			}
		}
		return len(texts) == 3
	})

	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var keys, erased int
	if err := conn.QueryRow(t.Context(), "SELECT (SELECT count(*) FROM "+pgx.Identifier{schema, "user_keys"}.Sanitize()+" WHERE user_id = $1), (SELECT count(*) FROM "+pgx.Identifier{schema, "erased_users"}.Sanitize()+" WHERE user_id = $1)", aliceID).Scan(&keys, &erased); err != nil {
		t.Fatal(err)
	}
	if keys != 0 || erased != 1 {
		t.Fatalf("after the erasure: %d key rows, %d erasure rows; want 0 and 1", keys, erased)
	}
}
