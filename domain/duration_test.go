package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateAtWithin(t *testing.T) {
	cases := []struct {
		at, duration int64
		want         string // "" means accepted
	}{
		{0, 0, ""},
		{MaxAt, 0, ""},
		{MaxAt + 1, 0, "at: must be an integer"},
		{-1, 20000, "at: must be an integer"},
		{0, 20000, ""},
		{20000, 20000, ""},
		{20001, 20000, "at: must be at most 20000: the video lasts 0:20"},
		{99 * 60 * 1000, 20000, "at: must be at most 20000"},
		{4*3600*1000 + 1, 4 * 3600 * 1000, "the video lasts 4:00:00"},
		{3 * 3600 * 1000, 247 * 1000, "the video lasts 4:07"},
	}
	for _, c := range cases {
		err := ValidateAtWithin(c.at, c.duration)
		var ve *ValidationError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("ValidateAtWithin(%d, %d) = %v, want nil", c.at, c.duration, err)
		case c.want != "" && (!errors.As(err, &ve) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("ValidateAtWithin(%d, %d) = %v, want %q", c.at, c.duration, err, c.want)
		}
	}
}

func TestNormalizeDuration(t *testing.T) {
	cases := []struct {
		in, want int64
		ok       bool
	}{
		{1, 1000, true},
		{1000, 1000, true},
		{20123, 21000, true},
		{MaxDurationMS, MaxDurationMS, true},
		{MaxDurationMS + 1, 0, false},
		{0, 0, false},
		{-5, 0, false},
	}
	for _, c := range cases {
		got, err := NormalizeDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("NormalizeDuration(%d) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestValidateSpan(t *testing.T) {
	cases := []struct {
		at, duration, video int64
		want                string // "" means accepted
	}{
		{0, 0, 0, ""},
		{1000, 5000, 0, ""},
		{1000, 19000, 20000, ""},
		{1000, 19001, 20000, "duration: must end by 20000: the video lasts 0:20"},
		{20001, 1, 20000, "at: must be at most 20000"},
		{0, -1, 20000, "duration: must be an integer from 1"},
		{0, MaxDurationMS + 1, 0, "duration: must be an integer from 1"},
		{MaxAt, 1, 0, "duration: must end by"},
		{0, MaxDurationMS, 0, ""},
	}
	for _, c := range cases {
		err := ValidateSpan(c.at, c.duration, c.video)
		var ve *ValidationError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("ValidateSpan(%d, %d, %d) = %v, want nil", c.at, c.duration, c.video, err)
		case c.want != "" && (!errors.As(err, &ve) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("ValidateSpan(%d, %d, %d) = %v, want %q", c.at, c.duration, c.video, err, c.want)
		}
	}
}
