// Drives the official phoenix client against a Videologue server, for
// channels/phoenixjs_test.go. Configuration comes from the environment:
//   VL_URL    ws://host:port/socket
//   VL_TOKEN  a socket token
//   VL_TOPIC  videos:<id>
//   VL_AUTH   "params" (default: ?token=...) or "subprotocol" (authToken)
//   VL_TRANSPORT  "websocket" (default, the ws package) or "longpoll"
//             (phoenix's LongPoll, over Node's fetch)
//   VL_STATE  "1": keep the video's state as the watch page does (edits,
//             deletes, last_seen_rev, caught_up), report pushes in bulk
//             only, and stop reading the socket when the join is answered
//             until told to resume
//             "book": keep the state as with "1", but rejoin with the book's
//             recipe only, {last_seen_id}, and read the socket throughout
// It prints one JSON object per line for what happens, and obeys commands
// read from stdin, one JSON object per line:
//   {"cmd":"post","body":"...","at":123}   push new_annotation
//   {"cmd":"binary"}                       push new_annotation with an ArrayBuffer payload
//   {"cmd":"reply","parent_id":1,"body":"..."}  push new_reply
//   {"cmd":"edit_reply","id":2,"body":"..."}    push edit_reply
//   {"cmd":"delete_reply","id":2}               push delete_reply
//   {"cmd":"exit"}                         print the ids seen, then exit
//   {"cmd":"resume"}                       read the socket again (VL_STATE)
//   {"cmd":"state"}                        print the state's size and digest (VL_STATE)
//   {"cmd":"hold"}                         disconnect and stop reconnecting
//   {"cmd":"connect"}                      connect again (the channel rejoins)
import { createHash } from "node:crypto"
import readline from "node:readline"
import { Socket, Presence, LongPoll } from "phoenix"
import WebSocket from "ws"

const out = (msg) => process.stdout.write(JSON.stringify(msg) + "\n")
// stdout is for the reports above; phoenix's LongPoll logs with console.log
// a response that is not JSON (the server's plain-text refusals).
console.log = console.error
const { VL_URL, VL_TOKEN, VL_TOPIC, VL_AUTH = "params", VL_TRANSPORT = "websocket", VL_STATE } = process.env
const tracking = VL_STATE === "1" || VL_STATE === "book"
const bookRecipe = VL_STATE === "book"

const opts = {
  transport: VL_TRANSPORT === "longpoll" ? LongPoll : WebSocket,
  reconnectAfterMs: () => 100,
  rejoinAfterMs: () => 200,
  // A client paused by the test (VL_STATE=1) reads no heartbeat replies
  // meanwhile, and phoenix closes a socket whose last heartbeat went
  // unanswered when the next is due: give a busy machine time.
  heartbeatIntervalMs: tracking ? 120000 : 5000,
}
if (VL_AUTH === "subprotocol") {
  opts.authToken = VL_TOKEN
} else {
  opts.params = { token: VL_TOKEN }
}
const socket = new Socket(VL_URL, opts)
socket.onOpen(() => out({ type: "open" }))
socket.onClose((e) => out({ type: "close", code: e && e.code }))
socket.onError(() => out({ type: "socket_error" }))

// Everything this client has been shown, in order, never deduplicated:
// duplicates and gaps are what the Go test looks for.
const seen = []
let lastSeenId = 0
const see = (a) => {
  seen.push(a.id)
  lastSeenId = Math.max(lastSeenId, a.id)
}

// The rejoin recipe of Phoenix's guides: the params function is called
// again on every join, after a reconnect too.
// With VL_STATE, the client also keeps what the watch page keeps: the
// annotations shown by id, and the largest revision applied, which it
// sends back as last_seen_rev.
const state = new Map()
let lastSeenRev = 0
const applied = (rev) => {
  if (typeof rev === "number") lastSeenRev = Math.max(lastSeenRev, rev)
}
const params = () =>
  tracking && !bookRecipe ? { last_seen_id: lastSeenId, last_seen_rev: lastSeenRev, device: "node" } : { last_seen_id: lastSeenId, device: "node" }

const channel = socket.channel(VL_TOPIC, params)
channel.on("new_annotation", (a) => {
  see(a)
  if (tracking) {
    state.set(a.id, a.body)
    applied(a.rev)
    return
  }
  out({ type: "annotation", id: a.id, body: a.body, at: a.at, user: a.user, inserted_at: a.inserted_at })
})
channel.on("annotation_updated", (a) => {
  if (!tracking) return
  state.set(a.id, a.body)
  lastSeenId = Math.max(lastSeenId, a.id)
  applied(a.rev)
})
channel.on("annotation_deleted", ({ id, rev }) => {
  if (!tracking) return
  state.delete(id)
  applied(rev)
})
// Replies are reported as they come; they never count as annotations
// (seen, lastSeenId), as for a client that knows only annotations.
for (const event of ["new_reply", "reply_updated", "reply_deleted"]) {
  channel.on(event, (r) => out({ type: event, id: r.id, parent_id: r.parent_id, body: r.body, user: r.user, rev: r.rev }))
}
channel.on("caught_up", ({ last_id, last_rev }) => {
  lastSeenId = Math.max(lastSeenId, last_id)
  applied(last_rev)
  out({ type: "caught_up", id: last_id, rev: last_rev, count: state.size })
})

const presence = new Presence(channel)
presence.onSync(() => {
  const list = presence.list((id, { metas }) => ({
    id,
    count: metas.length,
    username: metas[0].username,
    device: metas[0].device,
  }))
  out({ type: "presence", list })
})

channel
  .join()
  .receive("ok", ({ annotations, updated, deleted, rev, more, replies }) => {
    annotations.forEach(see)
    if (tracking) {
      annotations.concat(updated || []).forEach((a) => state.set(a.id, a.body))
      ;(deleted || []).forEach((id) => state.delete(id))
      applied(rev)
      if (more && !resumed && !bookRecipe) socket.conn.pause() // until told to resume
    }
    out({ type: "joined", ids: annotations.map((a) => a.id), shapes: annotations.slice(0, 1), more, replies: (replies || []).map((r) => r.id) })
  })
  .receive("error", (reply) => out({ type: "join_error", reply }))
  .receive("timeout", () => out({ type: "join_timeout" }))

let resumed = false
socket.connect()

const rl = readline.createInterface({ input: process.stdin })
rl.on("line", (line) => {
  const cmd = JSON.parse(line)
  switch (cmd.cmd) {
    case "post":
      channel
        .push("new_annotation", { body: cmd.body, at: cmd.at })
        .receive("ok", (r) => out({ type: "posted", id: r.id }))
        .receive("error", (r) => out({ type: "post_error", reason: r.reason }))
        .receive("timeout", () => out({ type: "post_timeout" }))
      break
    case "binary":
      channel
        .push("new_annotation", new Uint8Array([1, 2, 3]).buffer)
        .receive("ok", () => out({ type: "binary_ok" }))
        .receive("error", (r) => out({ type: "binary_error", reason: r.reason }))
        .receive("timeout", () => out({ type: "binary_timeout" }))
      break
    case "reply":
    case "edit_reply":
    case "delete_reply": {
      const event = cmd.cmd === "reply" ? "new_reply" : cmd.cmd
      const { cmd: _, ...payload } = cmd
      channel
        .push(event, payload)
        .receive("ok", (r) => out({ type: cmd.cmd + "_ok", id: r.id }))
        .receive("error", (r) => out({ type: cmd.cmd + "_error", reason: r.reason }))
        .receive("timeout", () => out({ type: "post_timeout" }))
      break
    }
    case "hold":
      socket.disconnect(() => out({ type: "held" }))
      break
    case "connect":
      socket.connect()
      break
    case "resume":
      resumed = true
      socket.conn.resume()
      break
    case "state": {
      const hash = createHash("sha256")
      for (const id of [...state.keys()].sort((a, b) => a - b)) hash.update(`${id}:${state.get(id)}\n`)
      out({ type: "state", count: state.size, body: hash.digest("hex"), id: lastSeenId, rev: lastSeenRev })
      break
    }
    case "exit":
      out({ type: "final", ids: seen })
      socket.disconnect(() => process.exit(0))
      setTimeout(() => process.exit(0), 1000)
      break
  }
})
rl.on("close", () => process.exit(0))
