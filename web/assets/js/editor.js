// Edit and delete for one's own annotations, inline in the panel. The
// server checks authorship; these controls only appear where it would
// agree. Changes arrive back as annotation_updated / annotation_deleted
// broadcasts, which the panel applies like everyone else's.
import {el} from "./format.js"

export class AnnotationEditor {
  // current(id) returns the annotation as the panel now knows it;
  // refresh(id) renders it again once editing ends.
  // kind names the pushes and the words: replies are edited as
  // annotations are, with edit_reply and delete_reply.
  constructor(channel, current, refresh, kind = {edit: "edit_annotation", delete: "delete_annotation", noun: "annotation"}){
    this.channel = channel
    this.current = current
    this.refresh = refresh
    this.kind = kind
  }

  isEditing(node){ return node.classList.contains("is-editing") }

  actions(node, ann){
    let bar = el("div", "ann-actions")
    let edit = el("button", "link-button", "Edit")
    edit.type = "button"
    edit.dataset.action = "edit"
    edit.addEventListener("click", () => this.edit(node, this.current(ann.id) || ann))
    let del = el("button", "link-button danger", "Delete")
    del.type = "button"
    del.dataset.action = "delete"
    del.addEventListener("click", () => this.confirmDelete(bar, ann))
    bar.append(edit, del)
    return bar
  }

  edit(node, ann){
    let form = el("form", "ann-edit")
    let area = el("textarea")
    area.value = ann.body
    area.maxLength = 1000
    area.rows = 3
    area.setAttribute("aria-label", "Edit " + this.kind.noun)
    let error = el("p", "form-error")
    error.hidden = true
    let save = el("button", "button small", "Save")
    save.type = "submit"
    let cancel = el("button", "link-button", "Cancel")
    cancel.type = "button"
    let row = el("div", "row")
    row.append(save, cancel)
    form.append(area, error, row)

    let body = node.querySelector(":scope > .ann-main > .ann-body")
    let actions = node.querySelector(":scope > .ann-main > .ann-actions")
    body.hidden = true
    actions.hidden = true
    node.classList.add("is-editing")
    node.querySelector(":scope > .ann-main").insertBefore(form, actions.nextSibling)
    area.focus()

    let close = () => {
      node.classList.remove("is-editing")
      form.remove()
      body.hidden = false
      actions.hidden = false
      this.refresh(ann.id)
    }
    cancel.addEventListener("click", close)
    area.addEventListener("keydown", e => { if(e.key === "Escape"){ close() } })
    form.addEventListener("submit", e => {
      e.preventDefault()
      save.disabled = true
      this.channel.push(this.kind.edit, {id: ann.id, body: area.value})
        .receive("ok", () => close())
        .receive("error", ({reason} = {}) => {
          save.disabled = false
          error.textContent = reason ? `Not saved: ${reason}` : "Not saved."
          error.hidden = false
        })
        .receive("timeout", () => {
          save.disabled = false
          error.textContent = "Not saved: the connection is down."
          error.hidden = false
        })
    })
  }

  confirmDelete(bar, ann){
    let saved = [...bar.childNodes]
    let ask = el("span", "ann-confirm", `Delete this ${this.kind.noun}?`)
    let yes = el("button", "link-button danger", "Yes, delete")
    yes.type = "button"
    yes.dataset.action = "confirm-delete"
    let no = el("button", "link-button", "Keep")
    no.type = "button"
    bar.replaceChildren(ask, yes, no)
    no.addEventListener("click", () => bar.replaceChildren(...saved))
    yes.addEventListener("click", () => {
      yes.disabled = true
      this.channel.push(this.kind.delete, {id: ann.id})
        .receive("error", ({reason} = {}) => {
          ask.textContent = reason ? `Not deleted: ${reason}` : "Not deleted."
          yes.disabled = false
        })
        .receive("timeout", () => {
          ask.textContent = "Not deleted: the connection is down."
          yes.disabled = false
        })
    })
  }
}
