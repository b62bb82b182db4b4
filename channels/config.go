package channels

import "time"

// Config tunes the socket. The zero value is usable.
type Config struct {
	// Node is the id of this process run, recorded with every viewer
	// (see Node.ID). Default "local".
	Node string
	// AllowedOrigins are the hosts ("example.com", "localhost:4000") a
	// browser may connect from. Empty: only the host the request was
	// sent to. Requests without an Origin header are always let in.
	AllowedOrigins []string
	// MaxFrameBytes bounds an inbound frame (default 32 KiB); a frame four
	// times larger closes the socket.
	MaxFrameBytes int
	// QueueSize is how many frames may wait for a slow client before it is
	// disconnected (default 256).
	QueueSize int
	// QueueBytes bounds what a connection holds for its client, queued or
	// being written: payloads, and a small cost per frame. A client that
	// would take it past the bound is disconnected (default 1 MiB).
	QueueBytes int
	// PageSize and PageBytes bound one page of a join's catch-up: the
	// join reply carries at most PageSize annotations (updated and
	// deleted ones included) in at most PageBytes of JSON (default 500
	// and 256 KiB), and the rest follows as pushes, a page at a time, each
	// once the connection has written the last. A page of pushes also
	// holds at most QueueSize/2 frames. PageBytes is at most
	// QueueBytes/4.
	PageSize  int
	PageBytes int
	// The rate limits are token buckets: so many a second, and at most
	// Burst at once. A user's and an address's buckets are kept by the
	// server until they are full again, whatever the sockets do. A zero
	// rate or burst is the default; a negative rate, no limit.
	//
	// PushRate and PushBurst limit each user's pushes, across their
	// connections (default 10 per second, burst 30); AddrPushRate and
	// AddrPushBurst, those of every user at one address together
	// (default 50, burst 150).
	PushRate      float64
	PushBurst     int
	AddrPushRate  float64
	AddrPushBurst int
	// JoinRate and JoinBurst limit each user's phx_join (default 2 per
	// second, burst 40: a reconnecting client rejoins all its channels at
	// once); AddrJoinRate and AddrJoinBurst, those from one address
	// (default 20, burst 200).
	JoinRate      float64
	JoinBurst     int
	AddrJoinRate  float64
	AddrJoinBurst int
	// ConnectRate and ConnectBurst limit each user's socket upgrades
	// (default 2 per second, burst 30); AddrConnectRate and
	// AddrConnectBurst, the upgrade requests from one address, counted
	// before the token is checked (default 20, burst 100). Over them, the
	// upgrade is refused with 429 and Retry-After.
	ConnectRate      float64
	ConnectBurst     int
	AddrConnectRate  float64
	AddrConnectBurst int
	// FrameRate and FrameBurst are each connection's budget of inbound
	// frames of every kind, heartbeats and pushes to unjoined topics
	// included (default 20 per second, burst 100; phoenix.js sends a
	// heartbeat every 30 s).
	FrameRate  float64
	FrameBurst int
	// FloodStrikes is how many frames a connection may have refused (by
	// its frame budget or by the push and join limits) since its last
	// admitted push or join; one more disconnects it (default 30).
	FloodStrikes int
	// MaxSocketsPerAddr bounds the sockets open at once from one address;
	// the next upgrade is refused with 429 (default 64; negative: no cap).
	MaxSocketsPerAddr int
	// MaxTopics bounds the channels joined on one connection (default 32).
	MaxTopics int
	// IdleTimeout closes a socket that sends nothing, not even a heartbeat,
	// for that long (default 75 s: two missed 30 s heartbeats).
	IdleTimeout time.Duration
	// PollTimeout is how long a long-poll GET waits for frames before it
	// answers 204 (default 10 s; phoenix.js gives up on a poll after its
	// longpollerTimeout, 20 s by default). A long-poll session that no
	// request has touched for twice that long ends (checked every
	// PollTimeout): its viewers leave.
	PollTimeout time.Duration
	// WriteTimeout bounds how long a client may leave the server's writes
	// waiting for room (default 10 s): a client that stops reading is cut
	// after it, one that reads slowly is not.
	WriteTimeout time.Duration
	// JoinTimeout bounds a join waiting for its video's hub to load
	// (default 10 s).
	JoinTimeout time.Duration
	// PresenceWindow is how long presence changes are gathered into one
	// presence_diff (default 50 ms).
	PresenceWindow time.Duration
	// PresenceRate bounds the presence frames a video's hub sends a
	// second, to all its viewers together (default 5,000): in a room of
	// N viewers, diffs go out at most every N/PresenceRate seconds (and
	// at most every PresenceWindow), with the changes in between merged.
	// However joins arrive, a viewer receives at most
	// PresenceRate/N diffs a second; the price is that a change shows
	// that much later in a large room (0.4 s at 2,000 viewers).
	PresenceRate float64
	// HubLinger keeps a video's hub loaded this long after its last viewer
	// left, so that a rejoin does not reload it (default 10 s).
	HubLinger time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Observer is told of connections, joins, pushes, refusals, catch-up
	// pages, broadcasts and slow-client disconnects (default: nobody).
	Observer Observer
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Node == "" {
		c.Node = "local"
	}
	def(&c.MaxFrameBytes, 32<<10)
	def(&c.QueueSize, 256)
	def(&c.QueueBytes, 1<<20)
	def(&c.PageSize, 500)
	def(&c.PageBytes, 256<<10)
	c.PageBytes = min(c.PageBytes, c.QueueBytes/4)
	defRate := func(r *float64, b *int, dr float64, db int) {
		if *r == 0 {
			*r = dr
		}
		if *b == 0 {
			*b = db
		}
	}
	defRate(&c.PushRate, &c.PushBurst, 10, 30)
	defRate(&c.AddrPushRate, &c.AddrPushBurst, 50, 150)
	defRate(&c.JoinRate, &c.JoinBurst, 2, 40)
	defRate(&c.AddrJoinRate, &c.AddrJoinBurst, 20, 200)
	defRate(&c.ConnectRate, &c.ConnectBurst, 2, 30)
	defRate(&c.AddrConnectRate, &c.AddrConnectBurst, 20, 100)
	defRate(&c.FrameRate, &c.FrameBurst, 20, 100)
	def(&c.FloodStrikes, 30)
	def(&c.MaxTopics, 32)
	if c.MaxSocketsPerAddr == 0 {
		c.MaxSocketsPerAddr = 64
	}
	defDur(&c.IdleTimeout, 75*time.Second)
	defDur(&c.WriteTimeout, 10*time.Second)
	defDur(&c.PollTimeout, 10*time.Second)
	defDur(&c.JoinTimeout, 10*time.Second)
	defDur(&c.PresenceWindow, 50*time.Millisecond)
	if c.PresenceRate <= 0 {
		c.PresenceRate = 5000
	}
	defDur(&c.HubLinger, 10*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
}
