// The socket to the server and the indicator that shows its state.
import {Socket} from "phoenix"

// How often the page asks for a fresh socket token: well within the
// token's lifetime, so a reconnect after hours still authenticates.
const TOKEN_REFRESH_MS = 10 * 60 * 1000

// How long a websocket may take to open before the socket tries long
// polling instead (phoenix.js's longPollFallbackMs).
const LONG_POLL_FALLBACK_MS = 2500

function meta(name){
  let el = document.querySelector(`meta[name="${name}"]`)
  return el ? el.content : ""
}

// connectSocket opens the page's socket with the signed token the server
// rendered into <meta name="socket-token">, refreshing it in the
// background from the sign-in cookie.
export function connectSocket(indicator){
  let token = meta("socket-token")
  // Where websockets are blocked (a proxy, a firewall), the socket falls
  // back to long polling after LONG_POLL_FALLBACK_MS, or at once when
  // the websocket fails, and remembers it for the browser session.
  let socket = new Socket("/socket", {params: () => ({token}), longPollFallbackMs: LONG_POLL_FALLBACK_MS})
  let refresh = async () => {
    try {
      let resp = await fetch("/signin/socket-token", {credentials: "same-origin", headers: {accept: "application/json"}})
      if(resp.ok){ token = (await resp.json()).token || token }
      else if(resp.status === 401){ indicator.signedOut() }
    } catch(_e){ /* offline: the reconnect loop keeps trying with the old token */ }
  }
  setInterval(refresh, TOKEN_REFRESH_MS)
  // A socket closed because its sign-in ended would only be refused again
  // with the same token: stop reconnecting and say so. Long polling says
  // it with 1008 "forbidden" (the server answers 403 only then).
  socket.onClose(event => {
    if(event && event.code === 1008 && (event.reason === "signed out" || event.reason === "forbidden")){
      socket.disconnect()
      indicator.signedOut()
    }
  })
  socket.connect()
  return socket
}

const LABELS = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
  failed: "Offline",
}

// ConnectionIndicator shows whether the page is live: connected (socket
// open and channel joined), or reconnecting after a drop.
export class ConnectionIndicator {
  constructor(el){
    this.el = el
    this.update = () => {}
    this.everJoined = false
    this.set("connecting")
  }

  watch(socket, channel){
    let update = this.update = () => {
      if(socket.isConnected() && channel.isJoined()){
        this.everJoined = true
        this.set("connected")
      } else if(this.state !== "failed"){
        this.set(this.everJoined ? "reconnecting" : "connecting")
      }
    }
    socket.onOpen(update)
    socket.onClose(update)
    socket.onError(update)
    channel.onError(update)
    channel.onClose(update)
    this.poll = setInterval(update, 1000)
  }

  failed(reason){
    this.set("failed", reason ? `Can't join: ${reason}` : null)
  }

  signedOut(){
    this.set("failed", "Signed out")
  }

  set(state, text){
    this.state = state
    if(!this.el){ return }
    this.el.dataset.state = state
    this.el.className = "conn conn-" + state
    this.el.textContent = text || LABELS[state]
  }
}
