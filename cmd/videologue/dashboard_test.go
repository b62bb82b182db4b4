package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// scrapeMetrics returns /metrics of the server at addr.
func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// exposedSeries names every series a scrape can hold: each family, and a
// histogram's _bucket, _sum and _count.
func exposedSeries(scrape string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(scrape, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		names[f[2]] = true
		if f[3] == "histogram" || f[3] == "summary" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f[2]+s] = true
			}
		}
	}
	return names
}

type dashboard struct {
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr       string `json:"expr"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

var metricName = regexp.MustCompile(`\bvideologue_[a-z0-9_]+\b`)

// The Grafana dashboard in docs parses, takes its Prometheus data source
// as a variable, and queries only metrics that a running server exposes
// after a little real traffic (HTTP requests, a join and a push over the
// socket).
func TestDashboardQueriesExistingMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana/videologue.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
	}
	if !hasDS {
		t.Error("no Prometheus data source variable named datasource")
	}

	m := NewMain(ServeConfig{Addr: "127.0.0.1:0", Data: t.TempDir(), Secret: devSecret, Env: "dev", Node: "t"}, slog.New(slog.DiscardHandler))
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	traffic(t, m.Addr())
	exposed := exposedSeries(scrapeMetrics(t, m.Addr()))

	ids := map[int]bool{}
	queried := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: no targets, or not on the datasource variable", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: a target not on the datasource variable", p.Title)
			}
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: %q queries no videologue metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				queried++
				if !exposed[n] {
					t.Errorf("panel %q queries %s, which the server does not expose", p.Title, n)
				}
			}
		}
	}
	if queried < 20 {
		t.Errorf("only %d metric references in the dashboard", queried)
	}
}

// traffic makes a user, a video, a join and a post on the server at addr,
// over HTTP and the socket, and waits until /metrics shows them.
func traffic(t *testing.T, addr string) {
	t.Helper()
	creds := map[string]string{"username": "metrics", "password": "password-123"}
	httpJSON(t, addr, "/api/users", "", creds)
	token := httpJSON(t, addr, "/api/sessions", "", creds)["token"].(string)
	httpJSON(t, addr, "/api/videos", token, map[string]string{"title": "t", "url": "https://example.com/v"})
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket/websocket?token="+token+"&vsn=2.0.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, frame := range []string{
		`["1","1","videos:1","phx_join",{}]`,
		`["1","2","videos:1","new_annotation",{"body":"hello","at":1}]`,
		`["1","3","videos:1","new_annotation",{"body":"","at":1}]`,
	} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		`videologue_socket_connections{transport="websocket"} 1`,
		`videologue_socket_joins_total{result="ok"} 1`,
		`videologue_socket_pushes_total{event="new_annotation",result="ok"} 1`,
		`videologue_socket_pushes_total{event="new_annotation",result="validation"} 1`,
		`videologue_socket_refusals_total{op="push",reason="validation"} 1`,
		`videologue_catchup_pages_total 1`,
		`videologue_http_requests_total{code="201",method="POST",route="/api/videos"} 1`,
		`videologue_http_request_duration_seconds_count{method="POST",route="/api/sessions"} 1`,
	}
	waitFor(t, 10*time.Second, "the traffic in /metrics", func() bool {
		body := scrapeMetrics(t, addr)
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false
			}
		}
		return true
	})
}
