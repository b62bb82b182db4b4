package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// catchUpResult is what one client saw of its catch-up from nothing.
type catchUpResult struct {
	count      int           // annotations received, join reply and pushes
	largest    int           // bytes of the largest frame
	took       time.Duration // from the join sent to caught_up read
	lastID     int64
	inOrder    bool // every id above the one before: no gap in order, no duplicate
	frames     int
	readErr    error
	caughtUp   bool
	rejoins    int           // joins refused (the hub loading) before one was answered
	joined     time.Duration // from the first join sent to the reply read
	caughtUpID int64         // caught_up's last_id
	lastRev    int64         // the largest rev seen, in the reply, pushes and caught_up
	ids        []int64       // the annotations received, in order, when asked to keep them
}

// rssSampler follows a process's RSS every 20 ms until stopped.
type rssSampler struct {
	before, peak int64
	done         chan struct{}
	wg           sync.WaitGroup
}

// sampleRSS reads pid's RSS now and then follows its peak; with pid 0 it
// reads nothing.
func sampleRSS(pid int) (*rssSampler, error) {
	s := &rssSampler{done: make(chan struct{})}
	if pid <= 0 {
		return s, nil
	}
	var err error
	if s.before, err = rssKiB(pid); err != nil {
		return nil, err
	}
	s.peak = s.before
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				if r, err := rssKiB(pid); err == nil {
					s.peak = max(s.peak, r)
				}
			}
		}
	}()
	return s, nil
}

// stop ends the sampling and returns the RSS before and at its peak, in KiB.
func (s *rssSampler) stop() (before, peak int64) {
	close(s.done)
	s.wg.Wait()
	return s.before, s.peak
}

// runCatchUp has cfg.catchUp clients join cfg.video from nothing at once
// and read until caught_up, and reports what they received, how long it
// took, and the server's RSS meanwhile.
func runCatchUp(ctx context.Context, cfg config, out io.Writer) error {
	a := &api{base: cfg.url, http: &http.Client{Timeout: 30 * time.Second}}
	runID := strconv.FormatInt(time.Now().Unix()%1e6, 36)
	tokens := make([]string, cfg.catchUp)
	if err := parallel(ctx, cfg.catchUp, 8, func(i int) error {
		t, err := a.signIn(ctx, "vc"+runID+"-"+strconv.Itoa(i))
		tokens[i] = t
		return err
	}); err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	topic := "videos:" + strconv.FormatInt(cfg.video, 10)
	conns := make([]*websocket.Conn, cfg.catchUp)
	for i, tok := range tokens {
		u, err := socketURL(cfg.url, tok)
		if err != nil {
			return err
		}
		ws, _, err := dialer.DialContext(ctx, u.String(), nil)
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		defer ws.Close()
		conns[i] = ws
	}
	rss, err := sampleRSS(cfg.serverPID)
	if err != nil {
		return err
	}
	results := make([]catchUpResult, cfg.catchUp)
	start := time.Now()
	var wg sync.WaitGroup
	for i, ws := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = catchUpFrom(ws, topic, joinFrame(topic), false)
		}()
	}
	wg.Wait()
	all := time.Since(start)
	rssBefore, rssPeak := rss.stop()

	var took []time.Duration
	ok := 0
	largest := 0
	for i, r := range results {
		took = append(took, r.took)
		largest = max(largest, r.largest)
		exact := r.caughtUp && r.inOrder && (cfg.expect == 0 || r.count == cfg.expect)
		if exact {
			ok++
		} else {
			fmt.Fprintf(out, "client %d: %d annotations, in order %v, caught up %v, err %v\n", i, r.count, r.inOrder, r.caughtUp, r.readErr)
		}
	}
	slices.Sort(took)
	fmt.Fprintf(out, "%d clients caught up from 0 on video %d: %d exact (%d annotations each expected; 0: not checked)\n", cfg.catchUp, cfg.video, ok, cfg.expect)
	fmt.Fprintf(out, "annotations per client: %d, frames per client: %d, largest frame: %d bytes\n", results[0].count, results[0].frames, largest)
	fmt.Fprintf(out, "first client: join answered after %v and %d refused joins\n", results[0].joined.Round(time.Millisecond), results[0].rejoins)
	fmt.Fprintf(out, "time to caught_up: median %v, max %v (all clients: %v)\n", took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), all.Round(time.Millisecond))
	if cfg.serverPID > 0 {
		fmt.Fprintf(out, "server RSS: %d MiB before, %d MiB at most during (+%d MiB)\n", rssBefore>>10, rssPeak>>10, (rssPeak-rssBefore)>>10)
	}
	if ok != cfg.catchUp {
		return fmt.Errorf("%d of %d clients did not catch up exactly", cfg.catchUp-ok, cfg.catchUp)
	}
	return nil
}

// catchUpFrom sends join, the phx_join of topic, on ws and reads until
// caught_up; with keep it records the ids received in r.ids.
func catchUpFrom(ws *websocket.Conn, topic, join string, keep bool) (r catchUpResult) {
	r.inOrder = true
	start := time.Now()
	var wmu sync.Mutex
	write := func(msg string) error {
		wmu.Lock()
		defer wmu.Unlock()
		return ws.WriteMessage(websocket.TextMessage, []byte(msg))
	}
	if err := write(join); err != nil {
		r.readErr = err
		return r
	}
	// A catch-up may outlast the server's idle timeout: heartbeat, as
	// phoenix.js does.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(20 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = write(`[null,"hb","phoenix","heartbeat",{}]`)
			}
		}
	}()
	see := func(id int64) {
		if id <= r.lastID {
			r.inOrder = false
		}
		r.lastID = id
		r.count++
		if keep {
			r.ids = append(r.ids, id)
		}
	}
	for {
		_ = ws.SetReadDeadline(time.Now().Add(60 * time.Second))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			r.readErr = err
			return r
		}
		r.frames++
		r.largest = max(r.largest, len(msg))
		event, d := frameEvent(msg)
		switch event {
		case "phx_reply":
			var p struct {
				Status   string `json:"status"`
				Response struct {
					Annotations []struct {
						ID int64 `json:"id"`
					} `json:"annotations"`
					Rev int64 `json:"rev"`
				} `json:"response"`
			}
			if !isJoinReply(msg) || d.Decode(&p) != nil {
				continue
			}
			if p.Status != "ok" { // the video's hub is still loading: rejoin, as phoenix.js does
				r.rejoins++
				time.Sleep(time.Second)
				if err := write(join); err != nil {
					r.readErr = err
					return r
				}
				continue
			}
			if r.joined == 0 {
				r.joined = time.Since(start)
			}
			r.lastRev = max(r.lastRev, p.Response.Rev)
			for _, a := range p.Response.Annotations {
				see(a.ID)
			}
		case "new_annotation":
			var a struct {
				ID  int64 `json:"id"`
				Rev int64 `json:"rev"`
			}
			if d.Decode(&a) == nil {
				see(a.ID)
				r.lastRev = max(r.lastRev, a.Rev)
			}
		case "annotation_updated", "annotation_deleted":
			var a struct {
				Rev int64 `json:"rev"`
			}
			if d.Decode(&a) == nil {
				r.lastRev = max(r.lastRev, a.Rev)
			}
		case "caught_up":
			var c struct {
				LastID  int64 `json:"last_id"`
				LastRev int64 `json:"last_rev"`
			}
			if d.Decode(&c) == nil {
				r.lastRev = max(r.lastRev, c.LastRev)
				r.caughtUpID = c.LastID
			}
			r.took, r.caughtUp = time.Since(start), true
			return r
		}
	}
}

// frameEvent reads msg, a Phoenix v2 frame [join_ref, ref, topic, event,
// payload], as far as its event, and returns the event ("" if msg is not
// such a frame) and a decoder at the payload: the payload is decoded once,
// and only if its event matters (a presence_state of a crowded video is
// about 1 MB).
func frameEvent(msg []byte) (string, *json.Decoder) {
	d := json.NewDecoder(bytes.NewReader(msg))
	if t, err := d.Token(); err != nil || t != json.Delim('[') {
		return "", d
	}
	var t json.Token
	for range 4 {
		var err error
		if t, err = d.Token(); err != nil {
			return "", d
		}
	}
	event, _ := t.(string)
	return event, d
}
