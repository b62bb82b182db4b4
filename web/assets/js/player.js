// Players behind one small interface, so the annotation panel does not care
// where the video comes from:
//
//   currentTimeMs()  the playback position in milliseconds
//   seekTo(ms)       jump there (and keep playing if it was playing)
//   onReady(fn)      fn runs once the player can report and seek
//
// A YouTube link plays through the YouTube IFrame API, as in the original
// app; a direct media URL plays in an HTML5 <video>.

export function createPlayer(container, {player, src, youtubeId}){
  if(player === "youtube"){ return new YouTubePlayer(container, youtubeId) }
  return new MediaPlayer(container, src)
}

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
      container.classList.add("player-error")
      container.dataset.error = "This video could not be played. Check its address."
    })
  }

  currentTimeMs(){ return Math.floor(this.video.currentTime * 1000) }

  seekTo(ms){ this.video.currentTime = ms / 1000 }

  onReady(fn){ fn() }
}

let youtubeAPI = null

// loadYouTubeAPI loads the IFrame API script once and resolves with YT.
function loadYouTubeAPI(){
  if(youtubeAPI){ return youtubeAPI }
  youtubeAPI = new Promise(resolve => {
    if(window.YT && window.YT.Player){ return resolve(window.YT) }
    let previous = window.onYouTubeIframeAPIReady
    window.onYouTubeIframeAPIReady = () => {
      if(previous){ previous() }
      resolve(window.YT)
    }
    let script = document.createElement("script")
    script.src = "https://www.youtube.com/iframe_api"
    script.async = true
    document.head.appendChild(script)
  })
  return youtubeAPI
}

class YouTubePlayer {
  constructor(container, videoId){
    this.player = null
    this.ready = []
    let target = document.createElement("div")
    container.appendChild(target)
    loadYouTubeAPI().then(YT => {
      this.player = new YT.Player(target, {
        videoId,
        width: "100%",
        height: "100%",
        playerVars: {playsinline: 1, rel: 0, modestbranding: 1, origin: window.location.origin},
        events: {
          onReady: () => { this.ready.splice(0).forEach(fn => fn()) },
          onError: () => { container.classList.add("player-error") },
        },
      })
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
}
