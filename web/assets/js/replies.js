// Replies under the annotations of the watch page: one level, each with
// its author and time, a reply box under every live annotation, and edit
// and delete for one's own. The channel pushes them as new_reply,
// reply_updated and reply_deleted, and a join reply carries them beside
// its annotations ("replies", "replies_updated", "replies_deleted").
//
// A reply's id comes from the same sequence as the annotations', so it
// counts toward the panel's lastSeenId and lastSeenRev like theirs. A
// thread whose annotation was deleted stays, headed as deleted, as long
// as a reply of it does: the panel keeps its place at the annotation's
// moment, which every reply carries as "at".
import {el} from "./format.js"
import {AnnotationEditor} from "./editor.js"

export class Threads {
  constructor(panel, channel, userId){
    this.panel = panel
    this.channel = channel
    this.userId = userId
    this.threads = new Map() // parent id -> {node, list, box, replies: Map id -> {reply, node}}
    this.parentOf = new Map() // reply id -> parent id
    this.gone = new Set() // reply ids deleted while this page was open
    this.editor = new AnnotationEditor(channel,
      id => this.get(id),
      id => { let r = this.find(id); if(r){ this.fill(r) } },
      {edit: "edit_reply", delete: "delete_reply", noun: "reply"})
    channel.on("new_reply", r => { this.upsert(r, !panel.paging); panel.applied(r.rev) })
    channel.on("reply_updated", r => { this.upsert(r, false); panel.applied(r.rev) })
    channel.on("reply_deleted", ({id, rev}) => { this.remove(id); panel.applied(rev) })
  }

  // caughtUp takes the replies of a join reply, after its annotations.
  caughtUp({replies, replies_updated, replies_deleted}){
    ;(replies || []).forEach(r => this.upsert(r, false))
    ;(replies_updated || []).forEach(r => this.upsert(r, false))
    ;(replies_deleted || []).forEach(id => this.remove(id))
  }

  reset(){
    this.threads.clear()
    this.parentOf.clear()
    this.gone.clear()
  }

  count(parentId){
    let t = this.threads.get(parentId)
    return t ? t.replies.size : 0
  }

  get(id){
    let r = this.find(id)
    return r ? r.reply : null
  }

  find(id){
    let t = this.threads.get(this.parentOf.get(id))
    return t ? t.replies.get(id) : null
  }

  // node is the thread of annotation parentId, made on first use and
  // kept across the annotation's renderings; open says whether it takes
  // new replies (its annotation is live).
  node(parentId, open){
    let t = this.thread(parentId)
    t.box.hidden = !open
    t.node.classList.toggle("is-closed", !open)
    return t.node
  }

  thread(parentId){
    let t = this.threads.get(parentId)
    if(t){ return t }
    let node = el("div", "thread")
    let list = el("ol", "replies")
    let box = this.box(parentId)
    node.append(list, box)
    t = {node, list, box, replies: new Map()}
    this.threads.set(parentId, t)
    return t
  }

  // box is the "Reply" button that opens a one-reply form.
  box(parentId){
    let wrap = el("div", "reply-box")
    let open = el("button", "link-button", "Reply")
    open.type = "button"
    open.classList.add("reply-open")
    let form = el("form", "reply-form")
    form.hidden = true
    let area = el("textarea")
    area.rows = 2
    area.maxLength = 1000
    area.placeholder = "Write a reply"
    area.setAttribute("aria-label", "Reply")
    let error = el("p", "form-error")
    error.hidden = true
    let send = el("button", "button small", "Send")
    send.type = "submit"
    let cancel = el("button", "link-button", "Cancel")
    cancel.type = "button"
    let row = el("div", "row")
    row.append(send, cancel)
    form.append(area, error, row)
    wrap.append(open, form)
    let close = () => { form.hidden = true; open.hidden = false; error.hidden = true; area.value = "" }
    let fail = text => { send.disabled = false; error.textContent = text; error.hidden = false }
    open.addEventListener("click", () => { open.hidden = true; form.hidden = false; area.focus() })
    cancel.addEventListener("click", close)
    area.addEventListener("keydown", e => {
      if(e.key === "Escape"){ close() }
      if(e.key === "Enter" && !e.shiftKey && !e.isComposing){ e.preventDefault(); form.requestSubmit() }
    })
    form.addEventListener("submit", e => {
      e.preventDefault()
      let body = area.value.trim()
      if(body === ""){ return fail("Write something first.") }
      send.disabled = true
      this.channel.push("new_reply", {parent_id: parentId, body})
        .receive("ok", () => { send.disabled = false; close() })
        .receive("error", ({reason} = {}) => fail(reason ? `Not sent: ${reason}` : "Not sent."))
        .receive("timeout", () => fail("Not sent: the connection is down. Try again in a moment."))
    })
    return wrap
  }

  upsert(reply, live){
    if(!reply || typeof reply.id !== "number" || this.gone.has(reply.id)){ return }
    this.panel.lastSeenId = Math.max(this.panel.lastSeenId, reply.id)
    let parentId = reply.parent_id
    // A reply whose annotation this page does not show: the annotation
    // was deleted. Its thread stands in for it, at its moment.
    this.panel.ensureThread(parentId, reply.at)
    let t = this.thread(parentId)
    let r = t.replies.get(reply.id)
    if(r){
      r.reply = reply
      this.fill(r)
      return
    }
    r = {reply, node: el("li", "reply")}
    r.node.dataset.id = reply.id
    this.fill(r)
    t.replies.set(reply.id, r)
    this.parentOf.set(reply.id, parentId)
    // Ids grow with time: a new reply goes last, unless catch-up brings
    // an older one after it.
    let after = [...t.list.children].find(n => Number(n.dataset.id) > reply.id)
    t.list.insertBefore(r.node, after || null)
    if(live){
      r.node.classList.add("is-new")
      setTimeout(() => r.node.classList.remove("is-new"), 2500)
    }
  }

  remove(id){
    this.gone.add(id)
    let parentId = this.parentOf.get(id)
    let t = this.threads.get(parentId)
    if(!t){ return }
    let r = t.replies.get(id)
    t.replies.delete(id)
    this.parentOf.delete(id)
    if(r){ r.node.remove() }
    if(t.replies.size === 0){ this.panel.threadEmptied(parentId) }
  }

  // fill renders a reply; user text only via textContent.
  fill(r){
    let {reply, node} = r
    if(this.editor.isEditing(node)){ return }
    node.replaceChildren()
    let main = el("div", "ann-main")
    let head = el("div", "ann-head")
    let user = reply.user || {}
    head.appendChild(el("span", "ann-user", user.username || "someone"))
    let when = el("time", "reply-time", shortDate(reply.inserted_at))
    when.dateTime = reply.inserted_at || ""
    head.appendChild(when)
    if(reply.edited_at){ head.appendChild(el("span", "ann-edited", "edited")) }
    main.append(head, el("p", "ann-body", reply.body))
    if(user.id === this.userId){
      node.classList.add("is-mine")
      main.appendChild(this.editor.actions(node, reply))
    }
    node.appendChild(main)
  }
}

// shortDate writes when a reply was posted: the time today, else the day.
function shortDate(iso){
  let d = new Date(iso)
  if(isNaN(d)){ return "" }
  let now = new Date()
  if(d.toDateString() === now.toDateString()){
    return d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"})
  }
  return d.toLocaleDateString([], {year: "numeric", month: "short", day: "numeric"})
}
