package main

import (
	"slices"
	"testing"
)

func TestNodesSpreadViewers(t *testing.T) {
	c := config{url: "http://a,http://b,http://c"}
	var got []string
	for i := range 4 {
		got = append(got, c.node(i))
	}
	if want := []string{"http://a", "http://b", "http://c", "http://a"}; !slices.Equal(got, want) {
		t.Fatalf("nodes of viewers 0..3: %v, want %v", got, want)
	}
}

func TestCatchUpFrame(t *testing.T) {
	for _, c := range []struct {
		msg      string
		ids      []int64
		caughtUp bool
		fails    bool
	}{
		{`["1","1","videos:1","phx_reply",{"status":"ok","response":{"annotations":[{"id":4},{"id":5}]}}]`, []int64{4, 5}, false, false},
		{`["1","1","videos:1","phx_reply",{"status":"error","response":{"reason":"history_rewound"}}]`, nil, false, true},
		{`["1",null,"videos:1","new_annotation",{"id":6,"body":"t=1"}]`, []int64{6}, false, false},
		{`["1",null,"videos:1","caught_up",{"last_id":6}]`, nil, true, false},
		{`["1",null,"videos:1","presence_diff",{"joins":{},"leaves":{}}]`, nil, false, false},
	} {
		ids, caughtUp, err := catchUpFrame([]byte(c.msg))
		if !slices.Equal(ids, c.ids) || caughtUp != c.caughtUp || (err != nil) != c.fails {
			t.Errorf("%s: ids %v, caught up %v, err %v", c.msg, ids, caughtUp, err)
		}
	}
}

// A post the killed node wrote but never answered counts as posted once a
// viewer received it: every viewer must have it then.
func TestUnansweredPostsCount(t *testing.T) {
	viewers := []*viewer{{ids: []int64{1, 2, 3}}, {ids: []int64{1, 3}}}
	if got := unanswered([]int64{1, 3}, viewers); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("posted: %v, want [1 2 3]", got)
	}
}
