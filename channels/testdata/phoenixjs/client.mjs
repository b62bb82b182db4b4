// Drives the official phoenix client against a Videologue server, for
// channels/phoenixjs_test.go. Configuration comes from the environment:
//   VL_URL    ws://host:port/socket
//   VL_TOKEN  a socket token
//   VL_TOPIC  videos:<id>
//   VL_AUTH   "params" (default: ?token=...) or "subprotocol" (authToken)
//   VL_TRANSPORT  "websocket" (default, the ws package) or "longpoll"
//             (phoenix's LongPoll, over Node's fetch)
// It prints one JSON object per line for what happens, and obeys commands
// read from stdin, one JSON object per line:
//   {"cmd":"post","body":"...","at":123}   push new_annotation
//   {"cmd":"binary"}                       push new_annotation with an ArrayBuffer payload
//   {"cmd":"exit"}                         print the ids seen, then exit
import readline from "node:readline"
import { Socket, Presence, LongPoll } from "phoenix"
import WebSocket from "ws"

const out = (msg) => process.stdout.write(JSON.stringify(msg) + "\n")
// stdout is for the reports above; phoenix's LongPoll logs with console.log
// a response that is not JSON (the server's plain-text refusals).
console.log = console.error
const { VL_URL, VL_TOKEN, VL_TOPIC, VL_AUTH = "params", VL_TRANSPORT = "websocket" } = process.env

const opts = {
  transport: VL_TRANSPORT === "longpoll" ? LongPoll : WebSocket,
  reconnectAfterMs: () => 100,
  rejoinAfterMs: () => 200,
  heartbeatIntervalMs: 5000,
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
const channel = socket.channel(VL_TOPIC, () => ({ last_seen_id: lastSeenId, device: "node" }))
channel.on("new_annotation", (a) => {
  see(a)
  out({ type: "annotation", id: a.id, body: a.body, at: a.at, user: a.user, inserted_at: a.inserted_at })
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
  .receive("ok", ({ annotations }) => {
    annotations.forEach(see)
    out({ type: "joined", ids: annotations.map((a) => a.id), shapes: annotations.slice(0, 1) })
  })
  .receive("error", (reply) => out({ type: "join_error", reply }))
  .receive("timeout", () => out({ type: "join_timeout" }))

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
    case "exit":
      out({ type: "final", ids: seen })
      socket.disconnect(() => process.exit(0))
      setTimeout(() => process.exit(0), 1000)
      break
  }
})
rl.on("close", () => process.exit(0))
