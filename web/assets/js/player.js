// Players behind one small interface, so the annotation panel does not care
// where the video comes from:
//
//   currentTimeMs()  the playback position in milliseconds
//   seekTo(ms)       jump there (and keep playing if it was playing)
//   onReady(fn)      fn runs once the player can report and seek
//   onDuration(fn)   fn(ms) runs whenever the player learns how long the
//                    video lasts (a finite, positive duration), at least
//                    once if it ever does
//
// A YouTube link plays through the YouTube IFrame API, as in the original
// app; a direct media URL plays in an HTML5 <video>.

export function createPlayer(container, {player, src, youtubeId}){
  if(player === "youtube"){ return new YouTubePlayer(container, youtubeId) }
  return new MediaPlayer(container, src)
}

// showProblem says on the player why it cannot play, with a link to the
// video where it lives, instead of a black box.
function showProblem(container, message, href, label){
  if(container.querySelector(".player-problem")){ return }
  container.classList.add("player-error")
  let box = document.createElement("div")
  box.className = "player-problem"
  box.setAttribute("role", "alert")
  let text = document.createElement("p")
  text.textContent = message
  let link = document.createElement("a")
  link.href = href
  link.textContent = label
  link.rel = "noopener noreferrer"
  link.target = "_blank"
  box.append(text, link)
  container.appendChild(box)
}

// youtubeProblems explains the IFrame API's error codes.
const youtubeProblems = {
  2: "YouTube does not recognise this video's id.",
  5: "YouTube's player cannot play this video in this browser.",
  100: "This YouTube video was removed or is private.",
  101: "The owner of this YouTube video does not allow playing it on other sites.",
  150: "The owner of this YouTube video does not allow playing it on other sites.",
}

// youtubeLoadWait is how long the IFrame API may take to load before the
// page says it could not.
const youtubeLoadWait = 20000

class MediaPlayer {
  constructor(container, src){
    this.video = container.querySelector("video")
    if(!this.video){
      this.video = document.createElement("video")
      this.video.controls = true
      this.video.playsInline = true
      this.video.preload = "metadata"
      this.video.src = src
      container.appendChild(this.video)
    }
    // An audio file (a podcast, a recording) gets a backdrop instead of a
    // black frame.
    this.video.addEventListener("loadedmetadata", () => {
      container.classList.toggle("player-audio", this.video.videoWidth === 0)
    })
    this.video.addEventListener("error", () => {
      showProblem(container, "This video could not be played here: its address may be wrong, or the file in a format this browser cannot play.", src, "Open the video's address")
    })
    this.durationListeners = []
    let report = () => {
      let ms = durationMs(this.video.duration)
      if(ms > 0){ this.durationListeners.forEach(fn => fn(ms)) }
    }
    this.video.addEventListener("loadedmetadata", report)
    this.video.addEventListener("durationchange", report)
  }

  onDuration(fn){
    this.durationListeners.push(fn)
    let ms = durationMs(this.video.duration)
    if(ms > 0){ fn(ms) }
  }

  currentTimeMs(){ return Math.floor(this.video.currentTime * 1000) }

  seekTo(ms){ this.video.currentTime = ms / 1000 }

  onReady(fn){ fn() }
}

// durationMs converts a player's duration in seconds to whole
// milliseconds, rounded up; 0 when unknown (NaN before the metadata,
// Infinity for a live stream).
function durationMs(seconds){
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds * 1000) : 0
}

let youtubeAPI = null

// loadYouTubeAPI loads the IFrame API script once and resolves with YT;
// it rejects when the script cannot load (blocked, offline) or does not
// start within youtubeLoadWait.
function loadYouTubeAPI(){
  if(youtubeAPI){ return youtubeAPI }
  youtubeAPI = new Promise((resolve, reject) => {
    if(window.YT && window.YT.Player){ return resolve(window.YT) }
    let previous = window.onYouTubeIframeAPIReady
    window.onYouTubeIframeAPIReady = () => {
      if(previous){ previous() }
      resolve(window.YT)
    }
    let script = document.createElement("script")
    script.src = "https://www.youtube.com/iframe_api"
    script.async = true
    script.onerror = () => reject(new Error("the YouTube player script did not load"))
    setTimeout(() => reject(new Error("the YouTube player did not start")), youtubeLoadWait)
    document.head.appendChild(script)
  })
  return youtubeAPI
}

class YouTubePlayer {
  constructor(container, videoId){
    this.player = null
    this.ready = []
    this.durationListeners = []
    this.knownMs = 0
    let target = document.createElement("div")
    container.appendChild(target)
    let watchURL = "https://www.youtube.com/watch?v=" + encodeURIComponent(videoId)
    loadYouTubeAPI().then(YT => {
      this.player = new YT.Player(target, {
        videoId,
        width: "100%",
        height: "100%",
        playerVars: {playsinline: 1, rel: 0, modestbranding: 1, origin: window.location.origin},
        events: {
          onReady: () => {
            this.ready.splice(0).forEach(fn => fn())
            this.checkDuration()
          },
          // YouTube may only know the duration once playback starts.
          onStateChange: () => this.checkDuration(),
          onError: e => {
            showProblem(container, youtubeProblems[e && e.data] || "YouTube's player cannot play this video.", watchURL, "Watch it on YouTube")
          },
        },
      })
    }, () => {
      showProblem(container, "The YouTube player could not load: YouTube may be blocked on this network, or the connection is down.", watchURL, "Watch it on YouTube")
    })
  }

  currentTimeMs(){
    return this.player && this.player.getCurrentTime ? Math.floor(this.player.getCurrentTime() * 1000) : 0
  }

  seekTo(ms){
    if(this.player && this.player.seekTo){ this.player.seekTo(ms / 1000, true) }
  }

  onReady(fn){
    if(this.player && this.player.getCurrentTime){ fn() } else { this.ready.push(fn) }
  }

  checkDuration(){
    let ms = this.player && this.player.getDuration ? durationMs(this.player.getDuration()) : 0
    if(ms > 0 && ms !== this.knownMs){
      this.knownMs = ms
      this.durationListeners.forEach(fn => fn(ms))
    }
  }

  onDuration(fn){
    this.durationListeners.push(fn)
    if(this.knownMs > 0){ fn(this.knownMs) }
  }
}
