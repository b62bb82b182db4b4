package web

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"time"
)

// mediaPath is where test servers serve a short playable file.
const mediaPath = "/media/silence.wav"

// silentWAV is seconds of silence as 8 kHz, 8-bit mono PCM: a media file
// Chromium plays in a <video> element (its currentTime advances) with
// nothing to download.
func silentWAV(seconds int) []byte {
	const rate = 8000
	n := rate * seconds
	var b bytes.Buffer
	b.WriteString("RIFF")
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) } // writes to a bytes.Buffer never fail
	le(uint32(36 + n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))   // fmt chunk size
	le(uint16(1))    // PCM
	le(uint16(1))    // mono
	le(uint32(rate)) // samples per second
	le(uint32(rate)) // bytes per second
	le(uint16(1))    // block align
	le(uint16(8))    // bits per sample
	b.WriteString("data")
	le(uint32(n))
	b.Write(bytes.Repeat([]byte{128}, n)) // 128 is silence in unsigned 8-bit PCM
	return b.Bytes()
}

// withMedia serves a silent WAV at mediaPath in front of next.
func withMedia(next http.Handler, seconds int) http.Handler {
	wav := silentWAV(seconds)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != mediaPath {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		http.ServeContent(w, r, "silence.wav", time.Time{}, bytes.NewReader(wav))
	})
}
