// Videologue's browser client. Every page loads this one bundle; each part
// mounts itself only where its markup is present, so pages stay
// server-rendered and work without JavaScript except the watch page.
import {connectSocket, ConnectionIndicator} from "./socket.js"
import {createPlayer} from "./player.js"
import {AnnotationPanel} from "./annotations.js"
import {PresenceList} from "./presence.js"
import {enhanceForms} from "./forms.js"

function mountWatch(root){
  let videoId = root.dataset.videoId
  let userId = Number(root.dataset.userId)
  let indicator = new ConnectionIndicator(document.getElementById("connection"))
  let socket = connectSocket(indicator)
  let player = createPlayer(document.getElementById("player"), root.dataset)

  // The params function runs again on every rejoin, so after a dropped
  // connection the server sends exactly the annotations this page missed,
  // and the edits and deletes of those it had.
  let panel = null
  let channel = socket.channel("videos:" + videoId, () => ({last_seen_id: panel.lastSeenId, last_seen_rev: panel.lastSeenRev}))
  panel = new AnnotationPanel(root, {channel, player, userId})
  new PresenceList(document.getElementById("presence"), document.getElementById("watcher-count"), channel, userId)
  indicator.watch(socket, channel)

  channel.join()
    .receive("ok", reply => {
      panel.caughtUp(reply || {})
      indicator.update()
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
}

if(document.readyState === "loading"){
  document.addEventListener("DOMContentLoaded", start)
} else {
  start()
}
