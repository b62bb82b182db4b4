// The annotation panel of the watch page: every annotation of the video,
// each shown once playback reaches its moment (or all of them, with "Show
// all"), clickable to seek there. A range is highlighted while playback is
// inside its stretch; with "Follow" the list keeps the current note in
// view until the viewer scrolls it by hand. The notes strip under the
// player shows where they all are.
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
//
// Each annotation carries its thread of replies (replies.js). A deleted
// annotation that has replies stays in the list, headed as deleted, until
// its last reply goes.
import {formatTime, el} from "./format.js"
import {AnnotationEditor} from "./editor.js"
import {Threads} from "./replies.js"
import {SeekStrip} from "./strip.js"

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
    this.threads = new Threads(this, channel, userId)
    this.composer = new Composer(root, channel, player)
    this.strip = new SeekStrip(root.querySelector("#notes-strip"), player)
    player.onDuration(ms => { this.strip.setDuration(ms); this.tick() })
    this.showAll = root.querySelector("#show-all")
    this.follow = root.querySelector("#follow-playback")
    this.showAll.addEventListener("change", () => this.tick())
    this.follow.addEventListener("change", () => this.tick())
    // A viewer who scrolls the list by hand is reading it: following
    // playback would pull it away.
    let byHand = () => { this.follow.checked = false }
    this.list.addEventListener("wheel", byHand, {passive: true})
    this.list.addEventListener("touchmove", byHand, {passive: true})
    this.list.addEventListener("pointerdown", e => { if(e.target === this.list){ byHand() } })
    this.list.addEventListener("keydown", e => {
      if(["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End"].includes(e.key)){ byHand() }
    })

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
  caughtUp(reply){
    let {annotations, updated, deleted, rev, more} = reply
    this.paging = more === true
    ;(annotations || []).forEach(ann => this.upsert(ann, false))
    ;(updated || []).forEach(ann => this.upsert(ann, false))
    ;(deleted || []).forEach(id => this.remove(id, false))
    this.threads.caughtUp(reply)
    this.applied(rev)
    this.tick()
  }

  // reset forgets every annotation shown: the server's history now ends
  // before what this page has seen (a restored backup, a log that lost
  // its tail), so the next join, with nothing seen, reloads the list.
  reset(){
    for(let {node} of this.items.values()){ node.remove() }
    this.items.clear()
    this.threads.reset()
    this.strip.dirty = true
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
    this.strip.dirty = true
    let item = this.items.get(ann.id)
    if(item){
      item.ann = ann
      this.fill(item)
      return
    }
    item = {ann, node: el("li", "annotation")}
    item.node.dataset.id = ann.id
    item.node.dataset.at = ann.at
    if(ann.duration > 0){
      item.node.dataset.duration = ann.duration
      item.node.classList.add("is-range")
    }
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
    if(this.threads.count(id) > 0){ // its thread stays, headed as deleted
      item.ann = {...item.ann, deleted: true}
      this.fill(item)
      this.strip.dirty = true
      return
    }
    this.items.delete(id)
    item.node.remove()
    this.strip.dirty = true
    if(live && !this.paging){ this.tick() }
  }

  // ensureThread makes a place for the thread of annotation id, at its
  // moment, when this page does not show the annotation: it was deleted.
  ensureThread(id, at){
    if(this.items.has(id)){ return }
    this.gone.add(id)
    let item = {ann: {id, at: Number(at) || 0, deleted: true}, node: el("li", "annotation")}
    item.node.dataset.id = id
    item.node.dataset.at = item.ann.at
    item.node.tabIndex = 0
    item.node.hidden = true
    this.items.set(id, item)
    this.fill(item)
    this.insertSorted(item)
    if(!this.paging){ this.tick() }
  }

  // threadEmptied drops a deleted annotation whose last reply went.
  threadEmptied(id){
    let item = this.items.get(id)
    if(item && item.ann.deleted){
      this.items.delete(id)
      item.node.remove()
    }
  }

  // fill renders an annotation's content; user text only via textContent.
  fill({ann, node}){
    if(this.editor.isEditing(node)){ return }
    node.replaceChildren()
    if(ann.deleted){
      node.classList.add("is-deleted")
      node.classList.remove("is-mine")
      let main = el("div", "ann-main")
      main.append(el("p", "ann-body ann-gone", "This annotation was deleted."), this.threads.node(ann.id, false))
      node.append(el("span", "ann-time", formatTime(ann.at)), main)
      return
    }
    let span = ann.duration > 0 ? `${formatTime(ann.at)}–${formatTime(ann.at + ann.duration)}` : formatTime(ann.at)
    let when = el("button", "ann-time", span)
    when.type = "button"
    when.title = "Jump to " + span
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
    main.appendChild(this.threads.node(ann.id, true))
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
    if(e.target.closest(".ann-actions, .ann-edit, .thread")){ return }
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

  // tick shows what playback has reached (or everything, with Show all),
  // highlights what is current and redraws the strip when notes changed.
  tick(){
    let now = this.player.currentTimeMs()
    this.reached = Math.max(this.reached, now)
    let all = this.showAll.checked
    let later = 0
    let current = null, lastDue = null
    for(let {ann, node} of this.items.values()){
      let due = all || ann.at <= this.reached
      if(node.hidden === due){ node.hidden = !due }
      if(ann.at > this.reached){ later++ }
      let end = ann.at + (ann.duration > 0 ? ann.duration : HIGHLIGHT_MS)
      let isCurrent = ann.at <= now && now < end
      node.classList.toggle("is-current", isCurrent)
      if(isCurrent && (!current || ann.at < current.ann.at)){ current = {ann, node} }
      if(due && ann.at <= now && (!lastDue || ann.at > lastDue.ann.at)){ lastDue = {ann, node} }
    }
    if(this.strip.dirty && !this.paging){
      this.strip.render([...this.items.values()].map(({ann}) => ann).filter(ann => !ann.deleted))
    }
    if(this.follow.checked){ this.scrollTo((current || lastDue || {}).node) }
    this.composer.show(now)
    this.showStatus(all ? 0 : later)
  }

  // scrollTo brings node into view inside the list, leaving the page
  // where it is.
  scrollTo(node){
    if(!node || node.hidden){ return }
    let list = this.list.getBoundingClientRect(), r = node.getBoundingClientRect()
    if(r.top < list.top || r.bottom > list.bottom){
      this.list.scrollTop += r.top - list.top - 8
    }
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
// time, or over a range: "From here" marks its start, and the post covers
// the stretch from there to the current time. Enter sends; Shift+Enter
// starts a new line.
class Composer {
  constructor(root, channel, player){
    this.form = root.querySelector("#annotation-form")
    this.body = root.querySelector("#annotation-body")
    this.error = root.querySelector("#annotation-error")
    this.at = root.querySelector("#post-at")
    this.button = this.form.querySelector("button[type=submit]")
    this.rangeButton = root.querySelector("#range-start")
    this.start = null // the marked start of a range, ms
    this.player = player
    this.rangeButton.addEventListener("click", () => this.mark(this.start === null ? player.currentTimeMs() : null))
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

  // mark sets the start of the range to post (null: post at an instant).
  mark(start){
    this.start = start
    this.rangeButton.textContent = start === null ? "From here" : `From ${formatTime(start)} ✕`
    this.rangeButton.setAttribute("aria-pressed", String(start !== null))
    this.show(this.player.currentTimeMs())
  }

  show(now){
    let text = this.start === null ? formatTime(now) : `${formatTime(this.start)}–${formatTime(now)}`
    if(this.at.textContent !== text){ this.at.textContent = text }
  }

  post(channel, player){
    let body = this.body.value.trim()
    if(body === ""){ return this.fail("Write something first.") }
    let payload = {body, at: player.currentTimeMs()}
    if(this.start !== null){
      if(payload.at <= this.start){ return this.fail("Play past the start of the range, or clear it.") }
      payload = {body, at: this.start, duration: payload.at - this.start}
    }
    this.fail("")
    this.button.disabled = true
    channel.push("new_annotation", payload)
      .receive("ok", () => {
        this.button.disabled = false
        this.body.value = ""
        this.mark(null)
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
