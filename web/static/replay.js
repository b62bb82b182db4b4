// Videologue replay: plays a video's session history back at 1x to 32x,
// viewers arriving and leaving and annotations appearing as they did.
// It reads the timeline (NDJSON) of /api/videos/{id}/timeline with the
// page's session, and renders every user-supplied text as text.
(function () {
  "use strict";
  var root = document.getElementById("replay");
  if (!root || !root.dataset.from) return;
  var $ = function (id) { return document.getElementById(id); };
  var videoID = root.dataset.videoId;
  var t0 = Date.parse(root.dataset.from), t1 = Date.parse(root.dataset.to);
  var playBtn = $("replay-play"), speedSel = $("replay-speed"), skipBox = $("replay-skip");
  var seek = $("replay-seek"), clock = $("replay-clock"), status = $("replay-status");
  var viewersEl = $("replay-viewers"), annsEl = $("replay-annotations"), logEl = $("replay-log");

  var events = [];      // the timeline, in order, with t = server time in ms
  var next = 0;         // index of the next event to apply
  var now = t0;         // the replay's clock
  var playing = false, lastFrame = 0;
  var viewers = new Map();      // connection id -> {username, device}
  var annotations = new Map();  // annotation id -> {at, body, username}
  var fresh = new Map();        // element key -> replay time it changed
  var QUIET = 10000;            // a stretch longer than this (replay ms) is skipped

  function mmss(ms) {
    var s = Math.floor(ms / 1000), m = Math.floor(s / 60);
    s = s % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }
  function stamp(ms) {
    var d = new Date(ms);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function reset() {
    next = 0;
    viewers.clear();
    annotations.clear();
    fresh.clear();
    logEl.textContent = "";
  }

  function describe(e) {
    var who = e.username || ("user " + e.user_id);
    switch (e.kind) {
      case "annotation_posted": return who + " posted at " + mmss(e.at) + ": " + e.body;
      case "annotation_edited": return who + " edited #" + e.annotation_id + ": " + (e.body || "");
      case "annotation_deleted": return who + " deleted #" + e.annotation_id;
      case "viewer_joined": return who + " started watching" + (e.device ? " (" + e.device + ")" : "");
      case "viewer_left": return who + " stopped watching" + (e.reason ? " (" + e.reason + ")" : "");
    }
    return e.kind;
  }

  // apply folds one event into the replayed state; log says whether to
  // show it in the running log (not while fast-forwarding a seek).
  function apply(e, log) {
    switch (e.kind) {
      case "viewer_joined":
        viewers.set(e.connection_id, { username: e.username || ("user " + e.user_id), device: e.device || "" });
        fresh.set("v" + e.connection_id, e.t);
        break;
      case "viewer_left":
        viewers.delete(e.connection_id);
        break;
      case "annotation_posted":
        annotations.set(e.annotation_id, { at: e.at, body: e.body, username: e.username || ("user " + e.user_id) });
        fresh.set("a" + e.annotation_id, e.t);
        break;
      case "annotation_edited":
        var a = annotations.get(e.annotation_id);
        if (a) { a.body = e.body; fresh.set("a" + e.annotation_id, e.t); }
        break;
      case "annotation_deleted":
        annotations.delete(e.annotation_id);
        break;
    }
    if (log) {
      var li = el("li", "fresh");
      li.appendChild(el("span", "when", stamp(e.t).slice(11)));
      li.appendChild(document.createTextNode(describe(e)));
      logEl.insertBefore(li, logEl.firstChild);
      while (logEl.childNodes.length > 200) logEl.removeChild(logEl.lastChild);
      setTimeout(function () { li.classList.remove("fresh"); }, 1200);
    }
  }

  function advanceTo(t, log) {
    if (t < now) { reset(); log = false; }
    now = t;
    while (next < events.length && events[next].t <= now) apply(events[next++], log);
  }

  function render() {
    clock.textContent = stamp(now);
    seek.value = String(Math.round(1000 * (now - t0) / Math.max(1, t1 - t0)));
    $("replay-viewer-count").textContent = String(viewers.size);
    $("replay-annotation-count").textContent = String(annotations.size);
    viewersEl.textContent = "";
    viewers.forEach(function (v, conn) {
      var li = el("li", now - (fresh.get("v" + conn) || -1e15) < 2000 ? "fresh" : "");
      li.appendChild(el("span", "who", v.username));
      if (v.device) li.appendChild(el("span", "muted", v.device));
      viewersEl.appendChild(li);
    });
    var list = Array.from(annotations, function (kv) { return { id: kv[0], a: kv[1] }; });
    list.sort(function (x, y) { return x.a.at - y.a.at || x.id - y.id; });
    annsEl.textContent = "";
    list.forEach(function (x) {
      var li = el("li", now - (fresh.get("a" + x.id) || -1e15) < 2000 ? "fresh" : "");
      li.appendChild(el("span", "at", mmss(x.a.at)));
      li.appendChild(el("span", "who", x.a.username));
      li.appendChild(document.createTextNode(x.a.body));
      annsEl.appendChild(li);
    });
  }

  function frame(ts) {
    if (!playing) return;
    var speed = Number(speedSel.value) || 1;
    var dt = lastFrame ? (ts - lastFrame) * speed : 0;
    lastFrame = ts;
    var target = now + dt;
    if (skipBox.checked && next < events.length && events[next].t - target > QUIET * speed) {
      target = events[next].t - 1000 * speed; // skip the quiet stretch
    }
    if (target >= t1) {
      advanceTo(t1, true);
      stop();
    } else {
      advanceTo(target, true);
    }
    render();
    if (playing) requestAnimationFrame(frame);
  }

  function play() {
    if (now >= t1) advanceTo(t0, false);
    playing = true;
    lastFrame = 0;
    playBtn.textContent = "Pause";
    requestAnimationFrame(frame);
  }
  function stop() {
    playing = false;
    playBtn.textContent = "Play";
  }

  playBtn.addEventListener("click", function () { playing ? stop() : play(); });
  seek.addEventListener("input", function () {
    advanceTo(t0 + (t1 - t0) * Number(seek.value) / 1000, false);
    render();
  });

  playBtn.disabled = true;
  fetch("/api/videos/" + encodeURIComponent(videoID) + "/timeline", { credentials: "same-origin", headers: { Accept: "application/x-ndjson" } })
    .then(function (resp) {
      if (!resp.ok) throw new Error("the server answered " + resp.status);
      return resp.text();
    })
    .then(function (text) {
      text.split("\n").forEach(function (line) {
        if (!line) return;
        var e = JSON.parse(line);
        e.t = Date.parse(e.time);
        events.push(e);
      });
      status.textContent = events.length + " events from " + stamp(t0) + " to " + stamp(t1) + ".";
      playBtn.disabled = false;
      advanceTo(t0, false);
      render();
    })
    .catch(function (err) {
      status.textContent = "Could not load the history: " + err.message;
    });
})();
