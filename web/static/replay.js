// Videologue replay: plays a video's history back at 1x to 32x,
// viewers arriving and leaving and annotations appearing as they did.
// It reads the timeline (NDJSON) of /api/videos/{id}/timeline with the
// page's sign-in cookie, a page at a time as playback goes on, never the whole
// history at once; a seek starts from the state as of that moment
// (/api/videos/{id}/state?at=). Every user-supplied text is rendered as
// text.
(function () {
  "use strict";
  var root = document.getElementById("replay");
  if (!root || !root.dataset.from) return;
  var $ = function (id) { return document.getElementById(id); };
  var videoID = root.dataset.videoId;
  var base = "/api/videos/" + encodeURIComponent(videoID);
  var t0 = Date.parse(root.dataset.from), t1 = Date.parse(root.dataset.to);
  var total = root.dataset.events;
  var playBtn = $("replay-play"), speedSel = $("replay-speed"), skipBox = $("replay-skip");
  var seek = $("replay-seek"), clock = $("replay-clock"), status = $("replay-status");
  var viewersEl = $("replay-viewers"), annsEl = $("replay-annotations"), logEl = $("replay-log");

  // Events per request (?page=N on the page's address changes it).
  var PAGE = Math.max(1, Number(new URLSearchParams(location.search).get("page")) || 2000);
  var events = [];      // loaded events not yet dropped, in order, with t = server time in ms
  var next = 0;         // index of the next event to apply
  var cursor = null;    // {time, position} of the last event loaded: the next page starts there
  var end = false;      // nothing is left to load
  var loading = null;   // the page being fetched, if any
  var gen = 0;          // bumped by each jump: a page fetched for an earlier one is dropped
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
  // span writes a note's moment, or a range's start and end.
  function span(at, duration) {
    return duration > 0 ? mmss(at) + "–" + mmss(at + duration) : mmss(at);
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
      case "annotation_posted": return who + " posted at " + span(e.at, e.duration) + ": " + e.body;
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
        annotations.set(e.annotation_id, { at: e.at, duration: e.duration, body: e.body, username: e.username || ("user " + e.user_id) });
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

  function get(path) {
    return fetch(base + path, { credentials: "same-origin", headers: { Accept: "application/json, application/x-ndjson" } })
      .then(function (resp) {
        if (!resp.ok) throw new Error("the server answered " + resp.status);
        return resp;
      });
  }

  function failed(err) {
    stop();
    status.textContent = "Could not load the history: " + err.message;
  }

  // loadPage fetches the events after the cursor, once at a time. Events
  // share a time at most within one commit: if a whole page repeats the
  // cursor's time, the next request asks for twice as many.
  function loadPage() {
    if (loading || end) return loading;
    var g = gen, limit = PAGE;
    var attempt = function () {
      return get("/timeline?limit=" + limit + "&from=" + encodeURIComponent(cursor.time))
        .then(function (resp) { return resp.text(); })
        .then(function (text) {
          if (g !== gen) return;
          var lines = text.split("\n").filter(Boolean), added = 0;
          lines.forEach(function (line) {
            var e = JSON.parse(line);
            if (e.time === cursor.time && e.position <= cursor.position) return; // in the last page
            e.t = Date.parse(e.time);
            events.push(e);
            added++;
          });
          if (lines.length) {
            var last = JSON.parse(lines[lines.length - 1]);
            cursor = { time: last.time, position: last.position };
          }
          if (lines.length < limit) end = true;
          else if (added === 0) { limit *= 2; return attempt(); }
        });
    };
    loading = attempt().then(function () {
      if (g !== gen) return;
      loading = null;
      advance(playing); // events at the clock's time, when it waited for them
      render();
    }, function (err) {
      if (g === gen) { loading = null; failed(err); }
    });
    return loading;
  }

  // jump starts the replay over at t: from the state as of t, then the
  // events from t on. Events at t itself may be applied twice, which
  // changes nothing: each sets or removes what it names.
  function jump(t) {
    gen++;
    var g = gen;
    loading = null;
    end = false;
    events = [];
    next = 0;
    now = t;
    reset();
    cursor = { time: new Date(t).toISOString(), position: -1 };
    var state = t <= t0 ? Promise.resolve(null) : get("/state?at=" + encodeURIComponent(cursor.time)).then(function (resp) { return resp.json(); });
    return state.then(function (st) {
      if (g !== gen) return;
      if (st) {
        (st.viewers || []).forEach(function (v) {
          viewers.set(v.connection_id, { username: v.username || ("user " + v.user_id), device: v.device || "" });
        });
        (st.annotations || []).forEach(function (a) {
          annotations.set(a.id, { at: a.at, duration: a.duration, body: a.body, username: a.username || ("user " + a.user_id) });
        });
      }
      render();
      return loadPage();
    }, function (err) {
      if (g === gen) failed(err);
    });
  }

  // advance applies the loaded events up to the clock, drops those applied
  // long ago, and fetches the next page before the loaded ones run out.
  function advance(log) {
    while (next < events.length && events[next].t <= now) apply(events[next++], log);
    if (next >= PAGE) {
      events = events.slice(next);
      next = 0;
    }
    if (!end && events.length - next <= PAGE / 2) loadPage();
  }

  // lastLoaded is the time up to which the history is known.
  function lastLoaded() {
    if (end) return Infinity;
    return events.length ? events[events.length - 1].t : -Infinity;
  }

  // advanceTo moves the clock to t: forward through the loaded events, or
  // by a jump when t is behind the clock or past what is loaded.
  function advanceTo(t, log) {
    if (t < now || t > lastLoaded()) {
      jump(t);
      return;
    }
    now = t;
    advance(log);
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
      li.appendChild(el("span", "at", span(x.a.at, x.a.duration)));
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
    // The clock waits at the end of what is loaded for the next page.
    target = Math.max(now, Math.min(target, lastLoaded()));
    if (target >= t1) {
      now = t1;
      advance(true);
      stop();
    } else {
      now = target;
      advance(true);
    }
    render();
    if (playing) requestAnimationFrame(frame);
  }

  function play() {
    if (now >= t1) jump(t0);
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
  jump(t0).then(function () {
    if (status.textContent.indexOf("Could not") === 0) return;
    status.textContent = total + " events from " + stamp(t0) + " to " + stamp(t1) + ".";
    playBtn.disabled = false;
  });
})();
