// "Who is watching": the official Presence client over the video channel.
// Entries are keyed by user id with one meta per connection, so a person
// with two tabs shows once with a count: "alice (2), bob".
import {Presence} from "phoenix"
import {el} from "./format.js"

export class PresenceList {
  constructor(listEl, countEl, channel, userId){
    this.listEl = listEl
    this.countEl = countEl
    this.userId = userId
    this.presence = new Presence(channel)
    this.presence.onSync(() => this.render())
  }

  render(){
    let viewers = this.presence.list((id, {metas}) => ({
      id,
      name: (metas[0] && metas[0].username) || "user " + id,
      count: metas.length,
    }))
    viewers.sort((a, b) => a.name.localeCompare(b.name))
    let items = viewers.map(({id, name, count}) => {
      let li = el("li", "viewer")
      li.dataset.userId = id
      li.dataset.count = count
      li.title = count > 1 ? `${name} is watching in ${count} tabs or devices` : `${name} is watching`
      li.appendChild(el("span", "viewer-avatar", name.slice(0, 1).toUpperCase()))
      li.appendChild(el("span", "viewer-name", name))
      if(count > 1){ li.appendChild(el("span", "viewer-count", ` (${count})`)) }
      if(String(id) === String(this.userId)){
        li.classList.add("is-me")
        li.appendChild(el("span", "viewer-you", "you"))
      }
      return li
    })
    this.listEl.replaceChildren(...items)
    this.countEl.textContent = String(viewers.length)
  }
}
