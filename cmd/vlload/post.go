package main

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// awaitReplies waits until deadline for the replies to every post and
// returns the ids given and the number of posts refused.
func awaitReplies(cfg config, posters []*viewer, deadline time.Time) (posted []int64, refused int) {
	for _, pv := range posters { // wait for every reply
		for {
			pv.mu.Lock()
			n, gone := len(pv.replies), pv.readErr != nil // gone: its node was killed
			pv.mu.Unlock()
			if n >= postsOf(cfg, slices.Index(posters, pv)) || gone || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		pv.mu.Lock()
		for _, id := range pv.replies {
			if id > 0 {
				posted = append(posted, id)
			} else {
				refused++
			}
		}
		pv.mu.Unlock()
	}
	return posted, refused
}

func postsOf(cfg config, p int) int {
	n := cfg.posts / cfg.posters
	if p < cfg.posts%cfg.posters {
		n++
	}
	return n
}

// post sends poster p's share: annotations i = p, p+P, ... at start +
// i/rate, or with rate 0 as fast as replies come back, window in flight.
func post(ctx context.Context, cfg config, p int, v *viewer, topic string, start time.Time) error {
	sent := 0
	for i := p; i < cfg.posts; i += cfg.posters {
		if cfg.rate > 0 {
			at := start.Add(time.Duration(float64(i) / cfg.rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		} else {
			for {
				v.mu.Lock()
				inflight := sent - len(v.replies)
				v.mu.Unlock()
				if inflight < cfg.window {
					break
				}
				select {
				case <-v.replyC:
				case <-time.After(10 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		ref, now := "p"+strconv.Itoa(i), time.Now().UnixNano()
		v.mu.Lock()
		v.sentAt[ref] = now
		v.mu.Unlock()
		msg := `["1","` + ref + `",` + strconv.Quote(topic) +
			`,"new_annotation",{"body":"t=` + strconv.FormatInt(now, 10) + `","at":0}]`
		if err := v.write(msg); err != nil {
			return err
		}
		sent++
	}
	return nil
}
