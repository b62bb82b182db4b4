// The moderators' queue (/moderation): each reported note can be hidden,
// or its reports dismissed, from the queue itself, through the HTTP API
// (the same commands as the watch page's, which go over the socket). The
// page is signed in by cookie, so each request carries the page's CSRF
// token.
import {el} from "./format.js"
import {reasonAction} from "./moderation.js"

export function mountQueue(list){
  let token = (document.querySelector('input[name="csrf_token"]') || {}).value || ""
  list.querySelectorAll(".queue-item").forEach(item => {
    let path = `/api/moderation/videos/${item.dataset.videoId}/items/${item.dataset.annotationId}/`
    let actions = el("div", "queue-actions")
    let handled = text => {
      actions.replaceChildren(el("p", "queue-done", text))
      item.classList.add("is-handled")
    }
    let send = (action, done) => reason => post(path + action, {reason}, token).then(() => handled(done))
    actions.append(
      reasonAction("Hide", "hide", false, send("hide", "Hidden")),
      reasonAction("Dismiss reports", "dismiss", false, send("dismiss", "Reports dismissed"), true))
    item.insertBefore(actions, item.querySelector("a.button"))
  })
}

// post sends body as JSON and settles with the server's refusal, if any.
function post(path, body, token){
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
    body: JSON.stringify(body),
  }).then(resp => {
    if(resp.ok){ return }
    return resp.json().then(({error}) => { throw error || "refused" }, () => { throw `refused (${resp.status})` })
  }, () => { throw "the server cannot be reached, try again" })
}
