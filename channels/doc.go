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
// ["phoenix", "base64url.bearer.phx.<base64 token>"]), a token whose
// sign-in has ended (Users.SignInLive), and a browser request whose Origin
// is not an allowed host. Frames are JSON arrays
// [join_ref, ref, topic, event, payload]. Besides Phoenix's own behaviour
// (heartbeat, phx_join/phx_leave/phx_close/phx_error, "unmatched topic",
// pushes with a stale join_ref ignored, a duplicate join replacing the
// channel), the server answers bad input as follows, and keeps the socket:
//
//   - a binary frame (phoenix.js's encoding of a push whose payload is
//     an ArrayBuffer): a phx_reply error "binary payloads are not
//     supported" to its topic and ref, read from the frame's header;
//   - a frame that is not JSON, not a 5-element array, or a binary frame
//     whose header cannot be read:
//     [null,null,"phoenix","phx_error",{"reason":...}];
//   - a frame over Config.MaxFrameBytes: a phx_reply error to its ref and
//     topic when those can be read, else the phx_error above;
//   - a push over the user's or the address's rate limit, or any frame
//     over the connection's frame budget: a phx_reply error "too many
//     messages, slow down";
//   - a join over the user's or the address's join limit: a phx_reply
//     error "too many joins, slow down".
//
// An upgrade over the address's or the user's connect limit, or past the
// address's cap on open sockets, is refused with 429 before the upgrade.
// The limits of users and addresses outlive their sockets (see limits).
//
// The socket is closed, alone, for: a frame over 4 x MaxFrameBytes (close
// code 1009), a client that keeps sending while refused (Config.FloodStrikes
// refusals since its last admitted push or join: 1008),
// a client that does not read what it is sent fast enough for its bounded
// queue (1008, or a plain TCP close when even that cannot be written; see
// Slow clients), and
// silence past Config.IdleTimeout, and the end of the sign-in its token was
// minted for (1008 "signed out", see Server.CloseSignIns). On shutdown every socket is closed with
// 1001 so that clients reconnect elsewhere or later.
//
// # Long polling
//
// Server also serves phoenix.js's LongPoll transport, at any path ending
// in /longpoll (the site mounts /socket/longpoll), for networks that
// block websockets (phoenix.js's longPollFallbackMs). A long-poll session
// is a connection like a websocket's, with the same handler,
// subscriptions, queue, limits, presence and catch-up; only how frames
// travel differs:
//
//   - GET with the user token as for a websocket (query parameter
//     `token`, or X-Phoenix-AuthToken) and no session token opens a
//     session, admitted as an upgrade is (origin, connect limits, the
//     address's cap on open sockets, which it counts against), and
//     answers {"status":410,"token":T}.
//   - GET with T (query parameter `token`, after the user token, as
//     phoenix.js sends it; or the X-Phoenix-Longpoll-Token header) takes
//     what the session has queued: {"status":200,"token":T,"messages":
//     [...]}, each message one serialized frame; or, after
//     Config.PollTimeout with nothing queued, {"status":204,"token":T}.
//   - POST with T feeds frames to the handler, one per line of an
//     application/x-ndjson body (phoenix.js sends at most 100), or one
//     JSON frame as the whole body, and answers {"status":200}. Each
//     frame is counted and checked as a websocket frame is; a body over
//     16 x MaxFrameBytes or 128 frames gets 413, a line over
//     4 x MaxFrameBytes closes the session. A session reads one POST at
//     a time and holds at most two GETs (429 past that).
//   - A request of a session closed because its sign-in ended, or whose
//     user token names an ended sign-in, gets {"status":403}, on which
//     phoenix.js closes (1008 "forbidden") and stops, as the page does for
//     a websocket closed "signed out".
//   - A token that names no live session of this process gets
//     {"status":410} and opens nothing: phoenix.js then reconnects,
//     rejoins its channels and catches up exactly from the log.
//
// As in Phoenix these answers are HTTP 200 with the status in the body;
// refusals of the connect itself are the upgrade's, in plain text, which
// phoenix.js retries with its back-off. T is the session's random id,
// signed with a key of this process's for the user who opened it: it
// cannot be forged, is worth nothing on another node or after a restart,
// and a request that carries it with a valid token of another user is
// refused with 403. A session lives on the node that opened it. It ends
// once no request has touched it for twice PollTimeout (checked every
// PollTimeout), on shutdown, and for everything that closes a websocket;
// its viewers then leave.
//
// # Exactly once, in order
//
// Each connection has one bounded queue and at most one writer at a time:
// a broadcast enqueues without ever waiting, and a connection whose queue
// is full is disconnected. Broadcasts go through the server's flusher: a
// few goroutines that take ready connections in order and write each
// one's whole queue with one non-blocking write, as websocket messages,
// one per frame; a connection whose socket does not take it all gets a
// writer goroutine of its own, which waits with the write deadline, so
// that a slow client never holds up the others. A reply is written by the
// goroutine that made it when the connection has no writer. A hub whose
// fan-out finds healthy connections' queues filling waits for the flusher
// to catch up, so that the server's own backlog never cuts a client.
// Frames read from the client likewise queue (at most 16) for a
// handler goroutine started on demand, and the goroutine net/http ran the
// upgrade on returns: an idle connection is one goroutine blocked in a
// read, with a small stack, a 256-byte read buffer and no write buffer. Each
// video has at most one hub per process, fed by one log subscription to
// the video-<id> stream (and one to viewers-<id>); the hub folds the
// stream into the video's current annotations. A subscription (one join
// of a video channel on a connection) registers under the hub's lock: its reply carries the live
// annotations after its last_seen_id as of the hub's revision R (or the
// first page of them: see below), and from
// then on it receives exactly the events after R, in stream order, each
// tagged with its join_ref, through its connection's FIFO queue. Because
// the log subscription delivers every event once and in order, and a
// subscription skips any revision not above the last it was given, no client
// sees an annotation twice or misses one; a client that was disconnected
// rejoins with the last id it saw and gets exactly the rest.
//
// # Presence
//
// A join appends ViewerJoined to viewers-<id>, a leave or a disconnect
// ViewerLeft. The presence a client sees is folded from that stream by the
// hub, so viewers connected to other processes sharing the store appear as
// well. Changes are merged into one presence_diff per Config.PresenceWindow,
// and in a room of N viewers per N/Config.PresenceRate seconds if that is
// longer: a viewer's presence frames a second are bounded by the room's
// size, not by how its joins arrive. A ref that joins and leaves between
// two diffs is in neither. A newcomer's presence_state is the list as of
// the last diff, built once per diff and shared. A websocket client that
// offers permessage-deflate (browsers and Node's ws do) gets presence
// frames of 512 bytes and more compressed, without context takeover: each
// payload is compressed once and the same bytes go to every such client
// (deflate.go). A room of N costs N² metas however they are sent; so
// compressed they take about a fifth of the bytes. Node records each
// process run in the nodes stream (NodeStarted, NodeStopped) and renews a
// lease every NodeConfig.HeartbeatInterval in the shared store's
// NodeConfig.Liveness, outside the log (PostgreSQL and KurrentDB have
// one; a store without one would get a NodeHeartbeat event instead; the
// embedded store, which one process owns, neither). It follows the whole log into an index of open viewings and
// of each node's last sign of life in it. At start it closes the
// viewings left open by a previous run that died; then, every
// SweepInterval, it closes with ViewerLeft{Reason: "node_lost"}, in one
// append per video, those of
// any node with neither a lease nor a sign of life in the log for longer
// than NodeConfig.Timeout. So viewers of a
// killed node leave the presence list within Timeout + SweepInterval
// (+ the presence interval) of its last heartbeat: 15 s + 5 s by default.
// Several live nodes may close the same viewing; presence ignores a leave
// for a viewing already closed.
//
// # Annotations
//
// A client posts with push new_annotation {"body": B, "at": MS} and an
// optional "duration": the milliseconds the note covers from at, an
// integer from 1 to a day (absent or null: an instant). A known video
// duration bounds both at and at + duration; anything else is a phx_reply
// error whose reason says what is wrong, and nothing is written. The reply
// is {"id": N}. Every annotation a client receives, in a push, a join
// reply or a page of catch-up, is {"id", "body", "at", "user": {"id",
// "username"}, "inserted_at"} with "edited_at" once edited, "duration"
// for a range, and "rev" in pushes; a client that does not know ranges
// sees their start as an instant. edit_annotation {"id", "body"} and
// delete_annotation {"id"} change the poster's own, and video_duration
// {"duration_ms"} reports what the client's player knows of the video.
//
// When the video is deleted, on any node, its viewers get a
// video_deleted push {"id": N} and then phx_close, so that clients stop
// rather than rejoin; a join of a deleted video is refused with "this
// video was deleted". The annotations stay in the log.
//
// # Replies
//
// A reply answers one annotation of the same video, one level deep. Push
// new_reply {"parent_id": P, "body": B}; the reply is {"id": N}, and every
// viewer gets new_reply {"id", "parent_id", "at", "body", "user",
// "inserted_at", "rev"}, with "edited_at" once edited; "at" is the
// parent's moment, so that a client can place a thread whose annotation
// it no longer shows. edit_reply {"id", "body"} and delete_reply {"id"}
// change the poster's own and are pushed as reply_updated (the reply) and
// reply_deleted {"id", "rev"}. The body follows the annotations' rules
// (1 to 1000 characters, trimmed) and the pushes count against the same
// rate limits. Refused with a reason, nothing written: a parent_id that is
// not an annotation of this video ("parent_id must be the id of an
// annotation of this video"; ids are per video, so another video's
// annotation is unknown here), a reply ("parent_id is a reply: ..."), a
// deleted annotation ("the annotation was deleted: its thread takes no new
// replies"; its existing replies stay, in the log and in catch-up), an id
// that is not a reply for edit_reply and delete_reply, and a reply of
// another user. A reply's id is its revision in the video's stream + 1,
// as an annotation's is: the two share one sequence, last_seen_id and
// last_seen_rev count both, and a join reply and the paged catch-up carry
// replies beside annotations, under "replies", "replies_updated" and
// "replies_deleted" (each only when not empty) and as new_reply,
// reply_updated and reply_deleted pushes. No reply ever appears as an
// annotation: a client that knows only annotations ignores these and
// stays exact, and one that rejoins with its largest annotation id gets
// the replies after it again, the same state.
//
// # Rejoining after edits and deletes
//
// Every push carries "rev", the number of events of the video's stream it
// brings the client to, and the join reply carries the rev it reflects. A
// client that rejoins with {"last_seen_id": N, "last_seen_rev": R} gets,
// beside the annotations after N, "updated" (current state of the
// annotations up to N edited, hidden from their author or reacted to
// after R), "deleted" (ids of those deleted after R) and "hidden" (ids of
// others' hidden after R), so that it ends with the log's fold. Without last_seen_rev
// (the book's recipe, {"last_seen_id": N}) R is taken to be N: an
// annotation's id is the revision its post brought the video to, and the
// client saw that post, so it gets every change since, perhaps one it had
// already applied, which is the same state again. A last_seen_id or
// last_seen_rev beyond the video's head is refused with history_rewound.
//
// # Paged catch-up
//
// The join reply carries at most one page of that history:
// Config.PageSize entries (annotations, updated and deleted together,
// default 500) in at most Config.PageBytes of JSON (default 256 KiB), and
// "more": true|false. With more, the rest follows in order as ordinary
// pushes, annotation_updated and annotation_deleted of what the client had,
// then new_annotation, with the payloads of live pushes: a page (at most
// PageSize entries, QueueSize/2 frames and PageBytes) each time the
// connection has written everything it held to its socket. Then, in every
// case, one caught_up push: {"last_id": N, "last_rev": R}, after which the
// subscription receives the live events after R; those of the video made
// during the paging wait for it and follow the history, in log order. Each
// paged push's rev is one a client cut there may rejoin with (see
// catchUp), so a client that keeps the largest id and rev it applied, or the
// largest id alone, and rejoins with them ends exact.
//
// # Moderation
//
// Any signed-in viewer may report an item of the video, an annotation or
// a reply, by its id, with push
// report_annotation {"id", "reason"}: a reason of 1 to
// domain.MaxReasonBytes bytes, once per user and item, and at most
// Config.ReportRate (burst ReportBurst) per user across sockets and
// reconnects. Moderators (the moderator role; admins hold every role) hide
// an item with hide_annotation {"id", "reason"}, broadcast to every
// subscription as annotation_hidden {"id", "rev"}, and close its open
// reports without hiding it with dismiss_report {"id", "reason"} (reason
// optional). A push without the role, a second report, an unknown id, a
// blank or long reason, a hide of a hidden item or a dismissal of an item
// without open reports is a phx_reply error with the reason, and nothing is
// written. Each is an event of the video's stream (AnnotationReported,
// AnnotationHidden, ReportsDismissed), appended only if the hub's fold,
// brought to the stream's head, allows it: the append expects the revision
// the check saw. Server.Hide and Server.Dismiss make the same commands
// for the HTTP API, through the same hub.
//
// A moderator's caught_up carries "reported": the ids of the items with
// open reports (left out when none), and each report or dismissal that
// changes an item's open reports is pushed to moderators alone as reports
// {"id", "open", "rev"}, open being how many wait; a hide closes them
// (annotation_hidden). The role is read when the user joins.
//
// A hidden item's author keeps seeing it, with "hidden": true; everyone
// else stops: the page drops it on annotation_hidden, a join reply leaves
// it out, and the catch-up of a client that had it sends its id alone,
// under "hidden" in the join reply or as an annotation_hidden push of a
// later page, never its text. Its author cannot edit it (a delete still
// works, and the delete is broadcast as usual); it takes no reports and no
// reactions.
//
// # Reactions
//
// react {"id", "reaction", "on": true|false} sets or clears the user's
// reaction, one of domain.Reactions: thumbs_up, heart, laugh and surprised
// (pages draw 👍 ❤️ 😂 😮). A user holds each reaction of an item once:
// setting one held, or clearing one not held, answers ok and writes
// nothing. Any other reaction, a non-boolean on, or an id that is not a live
// item of the video is a phx_reply error. Each change is a ReactionSet event
// of the video's stream; the hub pushes reactions {"id", "counts", "rev"}
// (counts by reaction name, only those above zero) for the items whose
// counts changed, once per Config.ReactionWindow (150 ms): a burst costs a
// viewer one push per item per window. Annotations in join replies and
// catch-up pages carry "reactions" (the counts, once any reaction was set),
// the same for every client, so that one join reply serves many, and
// "mine", the reactions the joining user holds on the item in the set's
// order, only on the items where they hold one (their pages are theirs).
// A window's pushes reach each connection together, in one write; the
// pushes to the connections of a user who changed their reactions on the
// item carry "mine" too. A client that joins with "reactions_window": true
// gets instead one push per window, reactions_window {"items": [{"id",
// "counts"[, "mine"]}, ...], "rev"}, rev as the last per-item push would
// carry it: one frame, however many items changed. While
// counts wait for their push,
// every other push carries at most the rev before the first of them, and
// of one window's pushes only the last carries the hub's rev, so a client
// cut in between rejoins below the reactions it has not seen and its
// catch-up sends those items again (under "updated") with their counts.
//
// # Slow clients
//
// What a connection holds for its client, queued or being written, is
// bounded by Config.QueueBytes (default 1 MiB, payloads and a small cost per
// frame) and Config.QueueSize frames: a client that would pass either is
// closed alone with 1008 "too slow: messages were not read in time", as is
// one whose socket takes no write for Config.WriteTimeout. Its catch-up
// waits on its socket, so a client that joins and never reads costs at most
// that bound (and the kernel's send buffer of its socket); it catches up
// exactly when it comes back.
package channels
