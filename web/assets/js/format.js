// formatTime renders a moment in a video, in milliseconds, as m:ss or
// h:mm:ss.
export function formatTime(ms){
  let total = Math.max(0, Math.floor(ms / 1000))
  let h = Math.floor(total / 3600)
  let m = Math.floor((total % 3600) / 60)
  let s = String(total % 60).padStart(2, "0")
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`
}

// el builds an element with a class and optional text. Text always goes
// through textContent, so user input never becomes markup.
export function el(tag, className, text){
  let node = document.createElement(tag)
  if(className){ node.className = className }
  if(text !== undefined && text !== null){ node.textContent = String(text) }
  return node
}
