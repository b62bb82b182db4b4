package main

import "testing"

func TestCheckStorm(t *testing.T) {
	posted := []int64{11, 12, 14, 15}
	for _, tc := range []struct {
		name string
		ids  []int64
		want stormCheck
	}{
		{"exact", []int64{11, 12, 14, 15}, stormCheck{}},
		{"what it had is ignored", []int64{3, 10, 11, 12, 14, 15}, stormCheck{}},
		{"missing", []int64{11, 14, 15}, stormCheck{missing: 1}},
		{"duplicated", []int64{11, 12, 12, 14, 15}, stormCheck{duplicated: 1, disorder: 1}},
		{"out of order", []int64{11, 14, 12, 15}, stormCheck{disorder: 1}},
		{"unexpected", []int64{11, 12, 13, 14, 15}, stormCheck{unexpected: 1}},
		{"nothing", nil, stormCheck{missing: 4}},
	} {
		got := checkStorm(tc.ids, 10, posted)
		if got != tc.want {
			t.Errorf("%s: checkStorm(%v) = %+v, want %+v", tc.name, tc.ids, got, tc.want)
		}
		if got.exact() != (tc.want == stormCheck{}) {
			t.Errorf("%s: exact() = %v", tc.name, got.exact())
		}
	}
}
