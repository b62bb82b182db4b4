// Small enhancements to the server-rendered forms, which work without them.
import {el} from "./format.js"

const YOUTUBE_HOSTS = ["youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be", "www.youtube-nocookie.com"]

// describeURL tells what kind of player an address will get. The server
// decides for real; this is a hint while typing.
export function describeURL(value){
  let url
  try { url = new URL(value.trim()) } catch(_e){ return {ok: false, text: "Paste an http or https address."} }
  if(url.protocol !== "http:" && url.protocol !== "https:"){ return {ok: false, text: "Only http and https addresses work."} }
  if(YOUTUBE_HOSTS.includes(url.hostname)){ return {ok: true, text: "YouTube video: plays in the YouTube player."} }
  return {ok: true, text: "Direct media file: plays in the browser's own player."}
}

// checkPassword mirrors the server's rule for a live hint.
export function checkPassword(pw){
  if([...pw].length < 10){ return {ok: false, text: "At least 10 characters."} }
  let letters = /\p{L}/u.test(pw), others = /[^\p{L}]/u.test(pw)
  if(!letters || !others){ return {ok: false, text: "Mix letters with digits or symbols."} }
  return {ok: true, text: "Strong enough."}
}

function liveHint(input, check){
  let hint = document.getElementById(input.getAttribute("aria-describedby")) || el("p", "hint")
  let initial = hint.textContent
  input.addEventListener("input", () => {
    if(input.value === ""){
      hint.textContent = initial
      hint.dataset.state = ""
      return
    }
    let {ok, text} = check(input.value)
    hint.textContent = text
    hint.dataset.state = ok ? "ok" : "bad"
  })
}

export function enhanceForms(root){
  // A second click while a form is on its way would post it twice.
  root.querySelectorAll("form[data-once]").forEach(form => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("button[type=submit]").forEach(b => {
        setTimeout(() => { b.disabled = true }, 0)
      })
    })
  })
  root.querySelectorAll("input[data-hint=url]").forEach(input => liveHint(input, describeURL))
  root.querySelectorAll("input[data-hint=password]").forEach(input => liveHint(input, checkPassword))
}
