// Package channels is Videologue's real-time socket: a Phoenix Channels
// server (serializer 2.0.0) on gorilla/websocket, so that the official
// `phoenix` JavaScript client and its Presence work against it unmodified,
// and the `videos:<id>` channel where the viewers of a video meet.
//
// # The socket
//
// Server is an http.Handler for /socket/websocket. It refuses, with 403
// and before any upgrade, a request without a valid signed token (query
// parameter `token`, or the subprotocol pair
// ["phoenix", "base64url.bearer.phx.<base64 token>"]) and a browser request
// whose Origin is not an allowed host. Frames are JSON arrays
// [join_ref, ref, topic, event, payload]. Besides Phoenix's own behaviour
// (heartbeat, phx_join/phx_leave/phx_close/phx_error, "unmatched topic",
// pushes with a stale join_ref ignored, a duplicate join replacing the
// channel), the server answers bad input as follows, and keeps the socket:
//
//   - a frame that is not JSON, not a 5-element array, or a binary frame:
//     [null,null,"phoenix","phx_error",{"reason":...}];
//   - a frame over Config.MaxFrameBytes: a phx_reply error to its ref and
//     topic when those can be read, else the phx_error above;
//   - a push over the user's rate limit: a phx_reply error "too many
//     messages, slow down".
//
// The socket is closed, alone, for: a frame over 4 x MaxFrameBytes (close
// code 1009), a client that keeps pushing while over its rate limit (1008),
// a client that does not read what it is sent fast enough for its bounded
// queue (1008, or a plain TCP close when even that cannot be written), and
// silence past Config.IdleTimeout. On shutdown every socket is closed with
// 1001 so that clients reconnect elsewhere or later.
//
// # Exactly once, in order
//
// Each connection has one bounded queue and one writer goroutine: a
// broadcast enqueues without ever waiting, and a connection whose queue is
// full is disconnected. Each video has at most one hub per process, fed by
// one subscription to the video-<id> stream (and one to viewers-<id>); the
// hub folds the stream into the video's current annotations. A joining
// session registers under the hub's lock: its reply carries the live
// annotations after its last_seen_id as of the hub's revision R, and from
// then on it receives exactly the events after R, in stream order, each
// tagged with its join_ref, through its connection's FIFO queue. Because
// the store's subscription delivers every event once and in order, and a
// session skips any revision not above the last it was given, no client
// sees an annotation twice or misses one; a client that was disconnected
// rejoins with the last id it saw and gets exactly the rest.
//
// # Presence
//
// A join appends ViewerJoined to viewers-<id>, a leave or a disconnect
// ViewerLeft. The presence a client sees is folded from that stream by the
// hub, so viewers connected to other processes sharing the store appear as
// well. Diffs are coalesced over Config.PresenceWindow. Node records each
// process run in the nodes stream and, at start, closes the viewings left
// open by a previous run that died.
package channels
