// Moderation and reactions on the watch page. Every note shows the
// reactions (a fixed set: the server refuses any other) with their
// counts, which arrive live as "reactions" pushes; a click sets or clears
// this viewer's own. Others' notes can be reported with a reason;
// moderators can hide a note or dismiss its reports, each with a reason.
// A hidden note disappears for everyone but its author, whose page keeps
// it marked hidden. The server checks every rule; these controls only
// ask.
import {el} from "./format.js"

// The server's names, in order, and how the page draws them.
export const REACTIONS = [["thumbs_up", "👍"], ["heart", "❤️"], ["laugh", "😂"], ["surprised", "😮"]]

// Reasons are bounded in bytes by the server (500); the field stops
// typing near it for most text.
const MAX_REASON = 500

export class Moderation {
  constructor(panel, channel, {userId, moderator}){
    this.panel = panel
    this.channel = channel
    this.userId = userId
    this.moderator = moderator
    // id -> Set of this user's reactions: the server sends them with
    // each item in the join reply and catch-up ("mine"), and with the
    // counts pushed after this user's own changes, from any tab.
    this.mine = new Map()
    this.sentReports = new Set() // ids this page reported
    // ids with open reports, for moderators: the server names them in
    // caught_up and pushes each change ("reports"), to moderators alone.
    this.openReports = new Set()
    channel.on("caught_up", ({reported}) => {
      if(!this.moderator){ return }
      let was = this.openReports
      this.openReports = new Set(reported || [])
      for(let id of new Set([...was, ...this.openReports])){ this.refill(id) }
    })
    channel.on("reports", ({id, open, rev}) => {
      open > 0 ? this.openReports.add(id) : this.openReports.delete(id)
      this.refill(id)
      panel.applied(rev)
    })
    channel.on("annotation_hidden", ({id, rev}) => { this.openReports.delete(id); this.hide(id); panel.applied(rev) })
    let counted = ({id, counts, mine}) => {
      if(Array.isArray(mine)){ this.mine.set(id, new Set(mine)) }
      let item = panel.items.get(id)
      if(item){
        item.ann.reactions = counts
        this.renderReactions(item)
      }
    }
    channel.on("reactions", push => { counted(push); panel.applied(push.rev) })
    channel.on("reactions_window", ({items, rev}) => { items.forEach(counted); panel.applied(rev) })
    panel.decorate = (item, main) => this.decorate(item, main)
  }

  refill(id){
    let item = this.panel.items.get(id)
    if(item){ this.panel.fill(item) }
  }

  // hide applies annotation_hidden: gone for others, marked for its author.
  hide(id){
    let item = this.panel.items.get(id)
    if(!item){ return }
    if((item.ann.user || {}).id === this.userId){
      item.ann.hidden = true
      this.panel.fill(item)
    } else {
      this.panel.remove(id)
    }
  }

  // decorate adds the reactions and the moderation controls to a note
  // the panel has just rendered.
  decorate(item, main){
    let {ann, node} = item
    if(Array.isArray(ann.mine)){ // taken once: later changes come as pushes
      this.mine.set(ann.id, new Set(ann.mine))
      delete ann.mine
    }
    node.id = "annotation-" + ann.id
    node.classList.toggle("is-hidden", ann.hidden === true)
    if(ann.hidden === true){
      main.insertBefore(el("p", "ann-hidden-note", "Hidden by a moderator: only you see it."), main.firstChild)
      return
    }
    let bar = el("div", "ann-mod")
    let reactions = el("div", "ann-reactions")
    reactions.setAttribute("role", "group")
    reactions.setAttribute("aria-label", "Reactions")
    bar.appendChild(reactions)
    let own = (ann.user || {}).id === this.userId
    if(!own){
      bar.appendChild(reasonAction("Report", "report", this.sentReports.has(ann.id), reason =>
        this.push("report_annotation", {id: ann.id, reason}, () => { this.sentReports.add(ann.id) })))
    }
    if(this.moderator){
      bar.appendChild(reasonAction("Hide", "hide", false, reason => this.push("hide_annotation", {id: ann.id, reason})))
      if(this.openReports.has(ann.id)){
        bar.appendChild(reasonAction("Dismiss reports", "dismiss", false, reason => this.push("dismiss_report", {id: ann.id, reason}), true))
      }
    }
    main.appendChild(bar)
    this.renderReactions(item, reactions) // main is not in node yet
  }

  renderReactions({ann, node}, box = node.querySelector(".ann-reactions")){
    if(!box){ return }
    let counts = ann.reactions || {}
    let mine = this.mine.get(ann.id) || new Set()
    box.replaceChildren(...REACTIONS.map(([name, glyph]) => {
      let n = counts[name] || 0
      let b = el("button", "reaction", n > 0 ? `${glyph} ${n}` : glyph)
      b.type = "button"
      b.dataset.reaction = name
      b.dataset.count = String(n)
      b.setAttribute("aria-pressed", String(mine.has(name)))
      b.setAttribute("aria-label", `${name.replace("_", " ")}: ${n}`)
      b.addEventListener("click", () => this.react(ann.id, name, !mine.has(name)))
      return b
    }))
  }

  react(id, name, on){
    this.push("react", {id, reaction: name, on}, () => {
      let set = this.mine.get(id) || new Set()
      on ? set.add(name) : set.delete(name)
      this.mine.set(id, set)
      let item = this.panel.items.get(id)
      if(item){ this.renderReactions(item) }
    })
  }

  // push sends event and settles with the server's answer.
  push(event, payload, onOk){
    return new Promise((resolve, reject) => {
      this.channel.push(event, payload)
        .receive("ok", () => { if(onOk){ onOk() } resolve() })
        .receive("error", ({reason} = {}) => reject(reason || "refused"))
        .receive("timeout", () => reject("the connection is down, try again"))
    })
  }
}

// reasonAction is a link that opens an inline form asking for a reason;
// send(reason) returns a promise of the server's answer, whose refusal
// the form shows. done starts it disabled, as "Reported".
export function reasonAction(label, name, done, send, optional = false){
  let wrap = el("span", "ann-mod-action")
  let open = el("button", "link-button", done ? "Reported" : label)
  open.type = "button"
  open.dataset.action = name
  open.disabled = done
  open.addEventListener("click", () => {
    if(wrap.querySelector("form")){ return }
    let form = el("form", "ann-reason")
    let input = el("input")
    input.name = "reason"
    input.maxLength = MAX_REASON
    input.required = !optional
    input.placeholder = optional ? "Why (optional)" : "Why?"
    input.setAttribute("aria-label", label + ": reason")
    let ok = el("button", "button small", label)
    ok.type = "submit"
    let cancel = el("button", "link-button", "Cancel")
    cancel.type = "button"
    cancel.addEventListener("click", () => form.remove())
    let error = el("p", "form-error")
    error.hidden = true
    form.append(input, ok, cancel, error)
    form.addEventListener("submit", e => {
      e.preventDefault()
      send(input.value.trim()).then(() => {
        form.remove()
        if(name === "report"){ open.textContent = "Reported"; open.disabled = true }
      }, reason => { error.textContent = reason; error.hidden = false })
    })
    wrap.appendChild(form)
    input.focus()
  })
  wrap.appendChild(open)
  return wrap
}
