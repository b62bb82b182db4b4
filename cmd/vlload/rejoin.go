package main

import (
	"fmt"
	"io"
	"slices"
)

// reportRejoin prints the rejoins' latency: from the phx_join with
// last_seen_id sent to caught_up read (the join reply and every missed
// annotation before it), and from the dial to the same.
func reportRejoin(out io.Writer, res []stormClient) {
	var join, dial []int64
	for _, c := range res {
		if c.dialErr != nil || !c.caughtUp {
			continue
		}
		join = append(join, int64(c.took))
		dial = append(dial, int64(c.done.Sub(c.dialed)))
	}
	slices.Sort(join)
	slices.Sort(dial)
	fmt.Fprintf(out, "rejoin latency, phx_join sent to caught_up read: p50 %v, p99 %v, max %v (%d rejoins)\n",
		percentile(join, 0.50), percentile(join, 0.99), percentile(join, 1), len(join))
	fmt.Fprintf(out, "rejoin latency, dial to caught_up read: p50 %v, p99 %v, max %v\n",
		percentile(dial, 0.50), percentile(dial, 0.99), percentile(dial, 1))
}
