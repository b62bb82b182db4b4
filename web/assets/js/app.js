// Videologue's browser client. Every page loads this one bundle; each part
// mounts itself only where its markup is present, so pages stay
// server-rendered and work without JavaScript except the watch page.
import {connectSocket, ConnectionIndicator} from "./socket.js"
import {createPlayer} from "./player.js"
import {AnnotationPanel} from "./annotations.js"
import {PresenceList} from "./presence.js"
import {Moderation} from "./moderation.js"
import {enhanceForms} from "./forms.js"
import {mountQueue} from "./queue.js"

// MAX_DURATION_MS is the longest duration the server accepts: a day.
const MAX_DURATION_MS = 24 * 60 * 60 * 1000

function mountWatch(root){
  let videoId = root.dataset.videoId
  let userId = Number(root.dataset.userId)
  let indicator = new ConnectionIndicator(document.getElementById("connection"))
  let socket = connectSocket(indicator)
  let player = createPlayer(document.getElementById("player"), root.dataset)

  // The params function runs again on every rejoin, so after a dropped
  // connection the server sends exactly the annotations this page missed,
  // and the edits and deletes of those it had. Reaction counts come as
  // one push per window (reactions_window), not one per note.
  let panel = null
  let channel = socket.channel("videos:" + videoId, () => ({last_seen_id: panel.lastSeenId, last_seen_rev: panel.lastSeenRev, reactions_window: true}))
  panel = new AnnotationPanel(root, {channel, player, userId})
  new Moderation(panel, channel, {userId, moderator: root.dataset.moderator === "true"})
  new PresenceList(document.getElementById("presence"), document.getElementById("watcher-count"), channel, userId)
  indicator.watch(socket, channel)

  // The server keeps the longest duration any viewer's player reported,
  // and refuses annotations pinned beyond it: tell it what this player
  // learns, once per value, whenever the channel is joined.
  let durationMs = 0, sentMs = 0
  let reportDuration = () => {
    if(durationMs > 0 && durationMs !== sentMs && durationMs <= MAX_DURATION_MS && channel.isJoined()){
      sentMs = durationMs
      let ms = durationMs
      channel.push("video_duration", {duration_ms: ms})
        .receive("ok", () => { root.dataset.durationMs = String(ms) })
        .receive("error", () => { sentMs = 0 })
        .receive("timeout", () => { sentMs = 0 })
    }
  }
  player.onDuration(ms => { durationMs = ms; reportDuration() })

  // The server closes the channel of a deleted video: say so, and stop
  // offering to post.
  channel.on("video_deleted", () => {
    indicator.set("failed", "This video was deleted")
    document.querySelectorAll("#annotation-form textarea, #annotation-form button").forEach(el => { el.disabled = true })
  })

  channel.join()
    .receive("ok", reply => {
      panel.caughtUp(reply || {})
      indicator.update()
      reportDuration()
    })
    .receive("error", ({reason} = {}) => {
      // The channel rejoins on its own after an error; with the list
      // dropped, that join reloads it from the start.
      if(reason === "history_rewound"){ panel.reset(); return }
      indicator.failed(reason)
    })

  window.videologue = {socket, channel, player, panel}
}

// A thumbnail that cannot load (offline, removed video) leaves the card's
// lettered backdrop instead of a broken image.
function hideBrokenThumbnails(){
  document.querySelectorAll(".thumb img").forEach(img => {
    if(img.complete && img.naturalWidth === 0){ img.remove() }
    img.addEventListener("error", () => img.remove())
  })
}

function start(){
  enhanceForms(document)
  hideBrokenThumbnails()
  let watch = document.getElementById("watch")
  if(watch){ mountWatch(watch) }
  let queue = document.getElementById("moderation-queue")
  if(queue){ mountQueue(queue) }
}

if(document.readyState === "loading"){
  document.addEventListener("DOMContentLoaded", start)
} else {
  start()
}
