// The annotation panel of the watch page: every annotation of the video,
// each shown once playback reaches its moment, clickable to seek there.
//
// Annotations are kept by id, so one delivered twice (a join reply after a
// reconnect overlapping a live push) is rendered once; lastSeenId and
// lastSeenRev (the video's revision: every push and join reply carries
// one) are what the channel's join params send back on every rejoin, so
// the server also sends the edits and deletes this page missed.
//
// A join's reply carries one page of what the page lacks; when it says
// "more", the rest comes as ordinary pushes, then caught_up. Until then
// the history is applied without flashing each annotation as new.
import {formatTime, el} from "./format.js"
import {AnnotationEditor} from "./editor.js"

// How long an annotation stays highlighted after its moment.
const HIGHLIGHT_MS = 4000
// The original app's schedule: each second, render what is due.
const TICK_MS = 1000

export class AnnotationPanel {
  constructor(root, {channel, player, userId}){
    this.channel = channel
    this.player = player
    this.userId = userId
    this.list = root.querySelector("#annotations")
    this.status = root.querySelector("#annotations-status")
    this.items = new Map() // id -> {ann, node}
    this.gone = new Set() // ids deleted while this page was open
    this.lastSeenId = 0
    this.lastSeenRev = 0
    this.paging = false // the join's history is still arriving
    this.reached = 0 // furthest playback position seen, ms
    this.editor = new AnnotationEditor(channel,
      id => this.items.has(id) ? this.items.get(id).ann : null,
      id => { if(this.items.has(id)){ this.fill(this.items.get(id)) } })
    this.composer = new Composer(root, channel, player)

    channel.on("new_annotation", ann => { this.upsert(ann, !this.paging); this.applied(ann.rev) })
    channel.on("caught_up", ({last_id, last_rev}) => {
      this.paging = false
      if(typeof last_id === "number"){ this.lastSeenId = Math.max(this.lastSeenId, last_id) }
      this.applied(last_rev)
      this.tick()
    })
    channel.on("annotation_updated", payload => { this.upsert(payload.annotation || payload, false); this.applied(payload.rev) })
    channel.on("annotation_deleted", ({id, rev}) => { this.remove(id); this.applied(rev) })

    this.list.addEventListener("click", e => this.clicked(e))
    this.list.addEventListener("keydown", e => {
      if((e.key === "Enter" || e.key === " ") && e.target.classList.contains("annotation")){
        e.preventDefault()
        this.seek(e.target)
      }
    })
    player.onReady(() => this.tick())
    this.timer = setInterval(() => this.tick(), TICK_MS)
    this.tick()
  }

  // caughtUp takes a join reply: the annotations after lastSeenId, and
  // those up to it that were edited or deleted after lastSeenRev, or the
  // first page of them when more follows.
  caughtUp({annotations, updated, deleted, rev, more}){
    this.paging = more === true
    ;(annotations || []).forEach(ann => this.upsert(ann, false))
    ;(updated || []).forEach(ann => this.upsert(ann, false))
    ;(deleted || []).forEach(id => this.remove(id, false))
    this.applied(rev)
    this.tick()
  }

  // reset forgets every annotation shown: the server's history now ends
  // before what this page has seen (a restored backup, a log that lost
  // its tail), so the next join, with nothing seen, reloads the list.
  reset(){
    for(let {node} of this.items.values()){ node.remove() }
    this.items.clear()
    this.gone.clear()
    this.lastSeenId = 0
    this.lastSeenRev = 0
    this.paging = false
    this.tick()
  }

  applied(rev){
    if(typeof rev === "number"){ this.lastSeenRev = Math.max(this.lastSeenRev, rev) }
  }

  upsert(ann, live){
    if(!ann || typeof ann.id !== "number" || this.gone.has(ann.id)){ return }
    this.lastSeenId = Math.max(this.lastSeenId, ann.id)
    let item = this.items.get(ann.id)
    if(item){
      item.ann = ann
      this.fill(item)
      return
    }
    item = {ann, node: el("li", "annotation")}
    item.node.dataset.id = ann.id
    item.node.dataset.at = ann.at
    item.node.tabIndex = 0
    item.node.hidden = true
    this.fill(item)
    this.items.set(ann.id, item)
    this.insertSorted(item)
    // History is shown by the next tick: one tick per annotation would
    // make a long history quadratic.
    if(live){
      this.flash(item.node)
      this.tick()
    }
  }

  remove(id, live = true){
    this.gone.add(id)
    let item = this.items.get(id)
    if(!item){ return }
    this.items.delete(id)
    item.node.remove()
    if(live && !this.paging){ this.tick() }
  }

  // fill renders an annotation's content; user text only via textContent.
  fill({ann, node}){
    if(this.editor.isEditing(node)){ return }
    node.replaceChildren()
    let when = el("button", "ann-time", formatTime(ann.at))
    when.type = "button"
    when.title = "Jump to " + formatTime(ann.at)
    let main = el("div", "ann-main")
    let head = el("div", "ann-head")
    let user = ann.user || {}
    head.appendChild(el("span", "ann-user", user.username || "someone"))
    if(ann.edited_at){ head.appendChild(el("span", "ann-edited", "edited")) }
    main.appendChild(head)
    main.appendChild(el("p", "ann-body", ann.body))
    if(user.id === this.userId){
      node.classList.add("is-mine")
      main.appendChild(this.editor.actions(node, ann))
    }
    node.append(when, main)
  }

  // insertSorted places an item by its moment, then id: a binary search
  // of the list, which is kept in that order.
  insertSorted(item){
    let {at, id} = item.ann
    let children = this.list.children
    let lo = 0, hi = children.length
    while(lo < hi){
      let mid = (lo + hi) >> 1
      let child = children[mid]
      let cat = Number(child.dataset.at), cid = Number(child.dataset.id)
      if(cat > at || (cat === at && cid > id)){ hi = mid } else { lo = mid + 1 }
    }
    this.list.insertBefore(item.node, children[lo] || null)
  }

  clicked(e){
    if(e.target.closest(".ann-actions, .ann-edit")){ return }
    let node = e.target.closest(".annotation")
    if(node){ this.seek(node) }
  }

  seek(node){
    this.player.seekTo(Number(node.dataset.at))
    setTimeout(() => this.tick(), 50)
  }

  flash(node){
    node.classList.add("is-new")
    setTimeout(() => node.classList.remove("is-new"), 2500)
  }

  // tick shows what playback has reached and highlights what is current.
  tick(){
    let now = this.player.currentTimeMs()
    this.reached = Math.max(this.reached, now)
    let later = 0
    for(let {ann, node} of this.items.values()){
      let due = ann.at <= this.reached
      if(node.hidden === due){ node.hidden = !due }
      if(!due){ later++ }
      node.classList.toggle("is-current", ann.at <= now && now < ann.at + HIGHLIGHT_MS)
    }
    this.composer.show(now)
    this.showStatus(later)
  }

  showStatus(later){
    let text = ""
    if(this.items.size === 0){
      text = "No annotations yet. Pause at a moment and write what you see."
    } else if(later > 0){
      text = later === 1 ? "1 more annotation later in the video." : `${later} more annotations later in the video.`
    }
    if(this.status.textContent !== text){ this.status.textContent = text }
    this.status.hidden = text === ""
  }
}

// Composer is the form that posts an annotation at the current playback
// time. Enter sends; Shift+Enter starts a new line.
class Composer {
  constructor(root, channel, player){
    this.form = root.querySelector("#annotation-form")
    this.body = root.querySelector("#annotation-body")
    this.error = root.querySelector("#annotation-error")
    this.at = root.querySelector("#post-at")
    this.button = this.form.querySelector("button[type=submit]")
    this.body.addEventListener("keydown", e => {
      if(e.key === "Enter" && !e.shiftKey && !e.isComposing){
        e.preventDefault()
        this.form.requestSubmit()
      }
    })
    this.form.addEventListener("submit", e => {
      e.preventDefault()
      this.post(channel, player)
    })
  }

  show(now){
    let text = formatTime(now)
    if(this.at.textContent !== text){ this.at.textContent = text }
  }

  post(channel, player){
    let body = this.body.value.trim()
    if(body === ""){ return this.fail("Write something first.") }
    this.fail("")
    this.button.disabled = true
    channel.push("new_annotation", {body, at: player.currentTimeMs()})
      .receive("ok", () => {
        this.button.disabled = false
        this.body.value = ""
        this.body.focus()
      })
      .receive("error", ({reason} = {}) => {
        this.button.disabled = false
        this.fail(reason ? `Not posted: ${reason}` : "Not posted.")
      })
      .receive("timeout", () => {
        this.button.disabled = false
        this.fail("Not posted: the connection is down. Try again in a moment.")
      })
  }

  fail(message){
    this.error.textContent = message
    this.error.hidden = message === ""
  }
}
