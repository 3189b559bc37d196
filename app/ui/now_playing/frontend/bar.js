// One player per bar key for the page load. The <audio> element lives on document.body, not in
// the component's (shadow) root, so a remount of the component by Streamlit can't stop it.
const players = new Map();
let active = null;
let keyboardBound = false;

const clock = (t) => {
  if (!Number.isFinite(t) || t < 0) t = 0;
  const m = Math.floor(t / 60), s = Math.floor(t % 60);
  return `${m}:${String(s).padStart(2, "0")}`;
};
const PREVIOUS_RESTARTS_AFTER_S = 3;

async function whyFailed(url, code) {
  try {
    const response = await fetch(url, { method: "HEAD" });
    if (response.status === 404) return "it is no longer in the catalog";
    if (response.status === 403) return "its link has expired (reload the page)";
    if (response.ok) return code === 4 ? "this browser can't play its file" : "its file didn't load";
    return `the server answered ${response.status}`;
  } catch (e) {
    return "the connection dropped";
  }
}
const round = (t) => (Number.isFinite(t) ? Math.round(t * 1000) / 1000 : null);
const EDITABLE = "input, textarea, select, [contenteditable=''], [contenteditable='true']";
const INTERACTIVE = EDITABLE + ", button, a[href], [role=button], [role=slider], [role=radio], " +
  "[role=checkbox], [role=switch], [role=tab], [role=option], [role=combobox], [role=menuitem]";

// Where the bar was, kept in the tab's sessionStorage so a reload resumes the same track at
// the same second, paused if it was paused (Python hears of the position only at a report).
const RESUME_KEY = "moodtune.resume";
const RESUME_EVERY_MS = 1000;

function readResume(key) {
  try {
    const saved = JSON.parse(window.sessionStorage.getItem(`${RESUME_KEY}.${key}`) || "null");
    return saved && Number.isInteger(saved.track_id) ? saved : null;
  } catch (e) { return null; }
}

function writeResume(key, value) {
  try { window.sessionStorage.setItem(`${RESUME_KEY}.${key}`, JSON.stringify(value)); } catch (e) { /* private mode */ }
}

function storedVolume() {
  try {
    const v = parseFloat(window.localStorage.getItem("moodtune.volume"));
    return Number.isFinite(v) && v >= 0 && v <= 1 ? v : 0.8;
  } catch (e) { return 0.8; }
}

class Player {
  constructor(key) {
    this.key = key;
    this.page = Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
    this.seq = 0;
    this.log = [];            // the last reports, oldest first: the state value Python reads
    this.track = null;        // what the audio element holds
    this.upcoming = [];       // what follows, consumed as the bar moves on by itself
    this.left = new Set();    // tracks the bar moved on from that Python hasn't caught up with
    this.started = false;     // "started" reported for the loaded track
    this.flowing = false;     // the listener wants music: a new current track starts by itself
    this.switching = false;
    this.scrubbing = false;
    this.ui = null;
    this.setStateValue = null;
    this.flushQueued = false;
    this.pauseTimer = null;
    this.retried = false;     // the loaded track's one retry after a load error is spent
    this.resume = readResume(key);  // consulted by the first load of this page only
    this.savedAt = 0;
    const audio = (this.audio = document.createElement("audio"));
    audio.preload = "auto";
    audio.dataset.moodtunePlayer = key;
    audio.volume = storedVolume();
    document.body.appendChild(audio);
    audio.addEventListener("playing", () => this.onPlaying());
    audio.addEventListener("pause", () => this.onPause());
    audio.addEventListener("ended", () => this.onEnded());
    audio.addEventListener("loadedmetadata", () => this.onMetadata());
    audio.addEventListener("error", () => this.onError());
    for (const name of ["timeupdate", "durationchange", "volumechange", "seeked"]) {
      audio.addEventListener(name, () => { this.remember(name !== "timeupdate"); this.render(); });
    }
    bindMediaSession(this);
  }

  report(kind, track, extra) {
    if (!track) return;
    const position = kind === "completed" ? (this.audio.duration || this.audio.currentTime) : this.audio.currentTime;
    this.log.push({ seq: ++this.seq, kind, track_id: track.id, position_s: round(position), ...extra });
    if (this.log.length > 24) this.log.shift();
    // Reports made in one go (completed, then advanced) reach Python in one rerun.
    if (!this.flushQueued) {
      this.flushQueued = true;
      setTimeout(() => {
        this.flushQueued = false;
        if (this.setStateValue) this.setStateValue("reports", { page: this.page, events: this.log.slice() });
      }, 0);
    }
  }

  // ------------------------------------------------------------------ data from Python
  update(data) {
    const current = data.current || null;
    if (!current) {
      if (this.track && this.left.size === 0) this.stop();
      this.render();
      return;
    }
    if (this.track && current.id === this.track.id) {
      this.left.clear();  // Python has caught up
      this.track = { ...this.track, ...current, url: this.track.url };
      this.upcoming = (data.upcoming || []).slice();
    } else if (this.left.has(current.id)) {
      return;  // an older view: Python hasn't yet heard that the bar moved on
    } else {
      let play = Boolean(data.autoplay) || this.flowing || (this.track && !this.audio.paused);
      let startAt = Number(data.start_at_s) || 0;
      const saved = this.resume;
      this.resume = null;
      if (saved && saved.track_id === current.id) {
        // A reload: where this tab was, and paused stays paused.
        startAt = Number(saved.position_s) || startAt;
        if (saved.paused) play = false;
      }
      this.left.clear();
      this.upcoming = (data.upcoming || []).slice();
      this.load(current, startAt, play);
    }
    this.render();
  }

  // ------------------------------------------------------------------ playback
  load(track, startAt, play, retry = false) {
    this.switching = true;
    if (!retry) {
      this.track = track;
      this.started = false;
      this.retried = false;
      this.status = "";
    }
    this.startAt = startAt > 0 ? startAt : 0;
    this.audio.src = new URL(track.url, document.baseURI).href;
    this.audio.dataset.trackId = String(track.id);
    this.remember(true);
    updateMediaSession(this);
    if (play) this.play();
  }

  remember(now) {
    // Throttled: timeupdate fires several times a second.
    if (!this.track || (!now && Date.now() - this.savedAt < RESUME_EVERY_MS)) return;
    this.savedAt = Date.now();
    const position = this.startAt > 0 ? this.startAt : this.audio.currentTime;
    writeResume(this.key, {
      track_id: this.track.id,
      position_s: round(position),
      paused: !this.flowing && this.audio.paused,
    });
  }

  play() {
    if (!this.track) return;
    if (this.audio.ended) this.audio.currentTime = 0;
    this.flowing = true;
    const promise = this.audio.play();
    if (promise) {
      promise.catch((err) => {
        if (err && err.name === "NotAllowedError") {
          this.status = "Press play to start the music.";
          this.render();
        }
      });
    }
  }

  toggle() {
    if (!this.track) return;
    if (this.audio.paused) this.play();
    else { this.flowing = false; this.audio.pause(); }
    this.remember(true);
  }

  previous() {
    if (!this.track) return;
    // As players do: back to the start of this track, or, near its start, the track before
    // (Python knows the history: it answers with that track as the current one).
    if (this.audio.currentTime > PREVIOUS_RESTARTS_AFTER_S) {
      this.audio.currentTime = 0;
      return;
    }
    this.flowing = true;
    this.report("previous", this.track);
  }

  next() {
    if (!this.track) return;
    if (!this.audio.ended) this.report("skipped", this.track);
    this.flowing = true;
    this.advance();
  }

  advance() {
    const from = this.track;
    const next = this.upcoming.shift();
    if (!next) {
      // Nothing queued here: stay on this track, stopped; the page refills the queue and hands
      // the bar a new current track, which starts by itself (flowing).
      this.quietPause();
      this.status = "End of the queue.";
      this.render();
      return;
    }
    if (from) this.left.add(from.id);
    this.load(next, 0, true);
    this.report("advanced", next, { from_track_id: from ? from.id : null });
    this.render();
  }

  stop() {
    this.quietPause();
    this.audio.removeAttribute("src");
    delete this.audio.dataset.trackId;
    this.audio.load();
    this.track = null;
    this.upcoming = [];
  }

  quietPause() {
    // A pause the bar makes itself (nothing left to play) isn't the listener pausing.
    if (!this.audio.paused) {
      this.ignorePause = true;
      this.audio.pause();
    }
  }

  onPlaying() {
    this.switching = false;
    if (!this.failedBefore) this.status = "";
    this.failedBefore = false;
    // At most one audio element in the page plays.
    for (const other of document.querySelectorAll("audio")) {
      if (other !== this.audio && !other.paused) other.pause();
    }
    if (!this.started) {
      this.started = true;
      this.report("started", this.track);
    } else if (this.wasPaused) {
      this.report("resumed", this.track);
    }
    this.wasPaused = false;
    this.remember(true);
    this.render();
  }

  onPause() {
    // The "pause" that precedes "ended", and the one a track change causes, aren't the
    // listener pausing.
    if (this.ignorePause) {
      this.ignorePause = false;
      return this.render();
    }
    if (this.audio.ended || this.switching || !this.track || !this.started) return this.render();
    this.wasPaused = true;
    this.report("paused", this.track);
    this.remember(true);
    this.render();
  }

  onEnded() {
    this.report("completed", this.track);
    this.started = false;  // playing it again is a new play
    this.advance();
  }

  onMetadata() {
    if (this.startAt > 0 && this.startAt < (this.audio.duration || Infinity)) this.audio.currentTime = this.startAt;
    this.startAt = 0;
    this.switching = false;
    this.render();
  }

  onError() {
    if (!this.track || !this.audio.getAttribute("src")) return;
    const failed = this.track;
    const at = this.audio.currentTime || this.startAt || 0;
    if (!this.retried) {
      // One more try at the same place: a network blip or a server busy for a moment.
      this.retried = true;
      this.load(failed, at, this.flowing, true);
      return;
    }
    // Still failing: move on, say why, and tell Python it failed (not a skip: nothing to learn
    // about the listener's taste from a file that didn't load).
    const code = this.audio.error ? this.audio.error.code : 0;
    const url = this.audio.src;
    this.report("failed", failed, { error_code: code });
    this.flowing = true;
    this.advance();
    const said = `Passed over "${failed.title}": `;
    this.status = `${said}its file didn't load.`;
    this.failedBefore = true;
    this.render();
    // A browser reports a 404 and a file it can't decode alike: ask the server which it was.
    whyFailed(url, code).then((why) => {
      if (!this.status.startsWith(said)) return;
      this.status = `${said}${why}.`;
      this.render();
    });
  }

  // ------------------------------------------------------------------ the bar's DOM
  bind(root) {
    const bar = root.querySelector(".bar");
    if (!bar) return;
    if (this.ui && this.ui.bar === bar) return;
    const q = (s) => bar.querySelector(s);
    const ui = (this.ui = {
      bar, title: q(".title"), sub: q(".sub"), artist: q(".artist"), mood: q(".mood"), play: q(".play"),
      next: q(".next"), previous: q(".previous"),
      seek: q(".seek"), elapsed: q(".elapsed"), total: q(".total"), mute: q(".mute"),
      volume: q(".volume"), download: q(".download"), status: q(".status"),
    });
    ui.play.addEventListener("click", () => this.toggle());
    ui.next.addEventListener("click", () => this.next());
    ui.previous.addEventListener("click", () => this.previous());
    ui.seek.addEventListener("input", () => { this.scrubbing = true; this.render(); });
    ui.seek.addEventListener("change", () => {
      this.scrubbing = false;
      const d = this.audio.duration;
      if (Number.isFinite(d) && d > 0) this.audio.currentTime = (ui.seek.value / 1000) * d;
    });
    ui.volume.addEventListener("input", () => {
      this.audio.volume = ui.volume.value / 100;
      this.audio.muted = false;
      try { window.localStorage.setItem("moodtune.volume", String(this.audio.volume)); } catch (e) {}
    });
    ui.mute.addEventListener("click", () => { this.audio.muted = !this.audio.muted; });
  }

  render() {
    const ui = this.ui;
    if (!ui) return;
    const t = this.track, a = this.audio;
    const state = !t ? "empty" : a.paused ? "paused" : "playing";
    ui.bar.dataset.state = state;
    const session = mediaSession();
    if (session && active === this) session.playbackState = t ? state : "none";
    ui.bar.dataset.trackId = t ? String(t.id) : "";
    ui.title.textContent = t ? t.title : "Nothing playing";
    ui.artist.textContent = t ? t.artist : "";
    ui.mood.textContent = t && t.mood ? t.mood : "";
    // A phone shows the mood's first word ("happy" of "happy / energetic"), not a clipped pair.
    ui.mood.dataset.short = t && t.mood ? t.mood.split(" / ")[0] : "";
    ui.sub.title = t ? [t.artist, t.mood].filter(Boolean).join(" · ") : "";
    ui.bar.style.setProperty("--mood", t && t.colour ? t.colour : "#888888");
    ui.play.disabled = !t;
    ui.play.setAttribute("aria-label", state === "playing" ? "Pause" : "Play");
    ui.play.title = state === "playing" ? "Pause (space)" : "Play (space)";
    ui.next.disabled = !t;
    ui.previous.disabled = !t;
    const duration = Number.isFinite(a.duration) && a.duration > 0 ? a.duration : (t && t.duration_s) || 0;
    const shown = this.scrubbing ? (ui.seek.value / 1000) * duration : a.currentTime;
    if (!this.scrubbing) ui.seek.value = duration > 0 ? Math.round((a.currentTime / duration) * 1000) : 0;
    ui.seek.disabled = !t;
    ui.seek.style.setProperty("--p", `${ui.seek.value / 10}%`);
    ui.elapsed.textContent = clock(t ? shown : 0);
    ui.total.textContent = clock(duration);
    const volume = a.muted ? 0 : a.volume;
    ui.volume.value = Math.round(volume * 100);
    ui.volume.style.setProperty("--p", `${volume * 100}%`);
    ui.bar.classList.toggle("muted", a.muted || a.volume === 0);
    if (t && t.url) {
      ui.download.href = t.url;
      ui.download.setAttribute("download", t.download || "");
      ui.download.hidden = false;
    } else {
      ui.download.removeAttribute("href");
      ui.download.hidden = true;
    }
    ui.status.textContent = this.status || "";
  }
}

function onKey(event) {
  if (!active || !active.track || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = (event.composedPath && event.composedPath()[0]) || event.target;
  const inside = (selector) => target instanceof Element && target.closest(selector);
  if (event.code === "Space" || event.key === " ") {
    if (inside(INTERACTIVE)) return;  // a focused button or field keeps its own space
    event.preventDefault();
    active.toggle();
  } else if (event.key === "n" || event.key === "N") {
    if (inside(EDITABLE)) return;
    event.preventDefault();
    active.next();
  } else if (event.key === "p" || event.key === "P") {
    if (inside(EDITABLE)) return;
    event.preventDefault();
    active.previous();
  }
}

// ------------------------------------------------------------------ lock screen and headphones
// The Media Session API: title, artist and a cover in the system's media controls, and their
// play/pause/next/previous/seek buttons acting on this bar.
const mediaSession = () => (typeof navigator !== "undefined" && navigator.mediaSession) || null;

function coverArt(colour) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96"><rect width="96" height="96" rx="16" fill="${colour}"/>` +
    '<path transform="translate(24 24) scale(2)" fill="#fff" d="M9 18.5a2.5 2.5 0 1 1-2-2.45V6l11-2v11.5a2.5 2.5 0 1 1-2-2.45V7.1L9 8.3z"/></svg>';
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

function updateMediaSession(player) {
  const session = mediaSession();
  if (!session || (active && player !== active)) return;
  const t = player.track;
  try {
    session.metadata = t ? new MediaMetadata({
      title: t.title, artist: t.artist, album: t.mood ? `Moodtune · ${t.mood}` : "Moodtune",
      artwork: [{ src: coverArt(/^#[0-9a-fA-F]{3,8}$/.test(t.colour || "") ? t.colour : "#888888"), sizes: "96x96", type: "image/svg+xml" }],
    }) : null;
  } catch (e) { /* MediaMetadata missing: no system controls */ }
}

function bindMediaSession(player) {
  const session = mediaSession();
  if (!session) return;
  const handlers = {
    play: () => player.play(),
    pause: () => { player.flowing = false; player.audio.pause(); player.remember(true); },
    nexttrack: () => player.next(),
    previoustrack: () => player.previous(),
    seekto: (details) => { if (Number.isFinite(details.seekTime)) player.audio.currentTime = details.seekTime; },
    seekbackward: (details) => { player.audio.currentTime = Math.max(0, player.audio.currentTime - (details.seekOffset || 10)); },
    seekforward: (details) => { player.audio.currentTime += details.seekOffset || 10; },
  };
  for (const [action, handler] of Object.entries(handlers)) {
    try { session.setActionHandler(action, handler); } catch (e) { /* unsupported action */ }
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  if (!data) return;
  const key = String(data.key || "now_playing");
  let player = players.get(key);
  if (!player) {
    player = new Player(key);
    players.set(key, player);
  }
  clearTimeout(player.pauseTimer);
  player.setStateValue = setStateValue;
  player.bind(parentElement);
  player.update(data);
  active = player;
  if (!keyboardBound) {
    keyboardBound = true;
    document.addEventListener("keydown", onKey);
    // Another audio element starting (an st.audio elsewhere) pauses this one.
    document.addEventListener("play", (event) => {
      for (const p of players.values()) {
        if (event.target !== p.audio && event.target instanceof HTMLAudioElement && !p.audio.paused) {
          p.flowing = false;
          p.audio.pause();
        }
      }
    }, true);
  }
  // Gone from the page (another page, or the bar no longer rendered): stop, unless Streamlit
  // mounts it again at once, which it does when the page's layout shifts around it.
  return () => {
    clearTimeout(player.pauseTimer);
    player.pauseTimer = setTimeout(() => {
      if (!player.ui || !player.ui.bar.isConnected) {
        player.flowing = false;
        player.audio.pause();
      }
    }, 1500);
  };
}

// For the bar's own unit tests (tests/frontend/bar.test.mjs); Streamlit uses the default export.
export { Player, clock, readResume, writeResume };
