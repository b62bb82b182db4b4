// The notes strip under the player: where the annotations are along the
// video. Each note is a marker at its moment and each range a bar over its
// stretch, placed by time over the video's duration, and clicking one
// seeks there. With many notes, markers would cover each other and cost a
// node each, so the strip then draws their density instead: the video cut
// into buckets, each as dark as the notes starting in it.
import {formatTime, el} from "./format.js"

// DENSITY_OVER is the number of notes past which the strip shows density.
export const DENSITY_OVER = 200
const BUCKETS = 120

export class SeekStrip {
  constructor(node, player){
    this.node = node
    this.player = player
    this.durationMs = 0
    this.dirty = false
    node.addEventListener("click", e => {
      let target = e.target.closest("[data-at]")
      if(target){ this.player.seekTo(Number(target.dataset.at)) }
    })
  }

  setDuration(ms){
    if(ms > 0 && ms !== this.durationMs){
      this.durationMs = ms
      this.dirty = true
    }
  }

  // render draws anns (the live annotations) when they or the duration
  // changed since the last call.
  render(anns){
    if(!this.dirty){ return }
    this.dirty = false
    // Until the player knows the duration, the notes' own extent is the
    // scale, so that they show at all.
    let span = this.durationMs
    for(let a of anns){ span = Math.max(span, a.at + (a.duration || 0)) }
    this.node.replaceChildren()
    this.node.hidden = anns.length === 0 || span <= 0
    if(this.node.hidden){ return }
    this.node.classList.toggle("is-density", anns.length > DENSITY_OVER)
    if(anns.length > DENSITY_OVER){ return this.density(anns, span) }
    let pct = ms => `${Math.min(100, ms / span * 100)}%`
    for(let a of anns){
      let who = (a.user && a.user.username) || "someone"
      let mark = el("button", a.duration ? "strip-range" : "strip-mark")
      mark.type = "button"
      mark.tabIndex = -1 // the panel's list is the keyboard's way to the notes
      mark.dataset.at = a.at
      mark.dataset.id = a.id
      mark.style.left = pct(a.at)
      if(a.duration){
        mark.style.width = `max(4px, ${Math.min(100, a.duration / span * 100)}%)`
        mark.title = `${formatTime(a.at)}–${formatTime(a.at + a.duration)} · ${who}`
      } else {
        mark.title = `${formatTime(a.at)} · ${who}`
      }
      mark.setAttribute("aria-label", "Jump to the note at " + mark.title)
      this.node.appendChild(mark)
    }
  }

  density(anns, span){
    let counts = new Array(BUCKETS).fill(0)
    for(let a of anns){ counts[Math.min(BUCKETS - 1, Math.floor(a.at / span * BUCKETS))]++ }
    let most = Math.max(...counts)
    counts.forEach((n, i) => {
      if(n === 0){ return }
      let at = Math.floor(i * span / BUCKETS)
      let bucket = el("button", "strip-bucket")
      bucket.type = "button"
      bucket.tabIndex = -1
      bucket.dataset.at = at
      bucket.style.left = `${i / BUCKETS * 100}%`
      bucket.style.width = `${100 / BUCKETS}%`
      bucket.style.opacity = String(0.25 + 0.75 * n / most)
      bucket.title = `${n} ${n === 1 ? "note" : "notes"} from ${formatTime(at)}`
      bucket.setAttribute("aria-label", "Jump to " + bucket.title)
      this.node.appendChild(bucket)
    })
  }
}
