package channels

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// A connection over a TCP socket writes to its descriptor without
// blocking (see conn.writeRaw) wherever the system allows it: everywhere
// but Windows, where it goes through the connection's own writes.
func TestConnWritesRawWhereItCan(t *testing.T) {
	raw := make(chan bool, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			raw <- false
			return
		}
		defer ws.Close()
		raw <- newConn(new(Server), ws, r, identity{}, "").raw != nil
	}))
	defer hs.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if got, want := <-raw, runtime.GOOS != "windows"; got != want {
		t.Fatalf("raw writes: %v on %s, want %v", got, runtime.GOOS, want)
	}
}
