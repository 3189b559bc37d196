"""The now-playing bar: the page's one audio player, a Streamlit custom component (v2).

Why a custom component: `st.audio` can't tell Python that a track ended (nor where it was
paused or skipped), so nothing could follow it; and each rerun that re-renders an `st.audio`
with new surroundings may replace its element and restart the track. This bar keeps one
`<audio>` element for the whole page load, on `document.body`, outside the DOM Streamlit
re-renders: a rerun that hands it the same current track (a like, a strategy switch, a mood
update, a fragment rerun) changes nothing it plays; only a different track id changes `src`.
It plays the next tracks it was given by itself when one ends, and reports what the audio did
(`app.listening.playback` turns the reports into listening events).

Audio is served by Streamlit's own media file manager, as `st.audio` does: `add()` names a file
by a hash of its bytes and type, so the URL of a track is the same on every run. The manager
drops, at the end of each full run, the files no element of that run registered (a fragment
run drops none), so every run registers the current track *and* the upcoming ones: whichever
the bar moves on to by itself is still served. A link with the `download` attribute on the
same URL lets the listener keep a copy.

Inline HTML/CSS/JS, no build step, nothing from a CDN.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import streamlit as st
from streamlit import runtime

from app.catalog.media import MediaPathError, MediaStore, open_media_store
from app.catalog.summary import TrackSummary
from app.emotions import QUADRANT_NAMES
from app.library.formats import mime_type
from app.ui.player import download_name

REPORTS = "reports"  # the component's state value: {"page": id, "events": [report, …]}
UPCOMING_SENT = 3  # next tracks handed to the bar, so it can keep going through a slow rerun
_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{3,8}$")
_FALLBACK_COLOUR = "#888888"

_HTML = """
<div class="frame"><div class="bar" data-state="empty" role="region" aria-label="Now playing">
  <div class="meta">
    <div class="cover" aria-hidden="true">
      <svg viewBox="0 0 24 24">
        <path d="M9 18.5a2.5 2.5 0 1 1-2-2.45V6l11-2v11.5a2.5 2.5 0 1 1-2-2.45V7.1L9 8.3z"/>
      </svg>
    </div>
    <div class="text">
      <div class="title">Nothing playing</div>
      <div class="sub"><span class="artist"></span><span class="mood"></span></div>
    </div>
  </div>
  <div class="controls">
    <button class="play" type="button" aria-label="Play" title="Play (space)" disabled>
      <svg class="i-play" viewBox="0 0 24 24"><path d="M8 5.5v13l11-6.5z"/></svg>
      <svg class="i-pause" viewBox="0 0 24 24"><path d="M7 5h3.5v14H7zM13.5 5H17v14h-3.5z"/></svg>
    </button>
    <button class="next" type="button" aria-label="Next track" title="Next (N)" disabled>
      <svg viewBox="0 0 24 24"><path d="M6 6l8.5 6L6 18zM16 6h2.5v12H16z"/></svg>
    </button>
  </div>
  <div class="progress">
    <span class="elapsed">0:00</span>
    <input class="seek" type="range" min="0" max="1000" step="1" value="0" aria-label="Seek" disabled>
    <span class="total">0:00</span>
  </div>
  <div class="extras">
    <button class="mute" type="button" aria-label="Mute" title="Mute">
      <svg class="i-vol" viewBox="0 0 24 24">
        <path d="M4 9.5h3.5L12 5.5v13l-4.5-4H4zM15 8.5a5 5 0 0 1 0 7M17.5 6a8.5 8.5 0 0 1 0 12"/>
      </svg>
      <svg class="i-muted" viewBox="0 0 24 24">
        <path d="M4 9.5h3.5L12 5.5v13l-4.5-4H4zM15.5 9.5l5 5M20.5 9.5l-5 5"/>
      </svg>
    </button>
    <input class="volume" type="range" min="0" max="100" step="1" value="80" aria-label="Volume">
    <a class="download" aria-label="Download this track" title="Download" hidden>
      <svg viewBox="0 0 24 24"><path d="M12 4v10M7.5 10l4.5 4.5 4.5-4.5M5 19h14"/></svg>
    </a>
  </div>
  <div class="status" aria-live="polite"></div>
</div></div>
"""

_CSS = """
:host { display: block; }
/* The frame is the container the phone layout queries: the bar's own width, not the window's,
   so a bar in a narrow column stacks too. */
.frame { container-type: inline-size; }
.bar {
  --mood: #888888;
  --accent: var(--st-primary-color, #ff4b4b);
  --line: var(--st-border-color, rgba(49, 51, 63, 0.2));
  --muted-text: color-mix(in srgb, var(--st-text-color, #31333f) 62%, transparent);
  display: grid;
  grid-template-columns: minmax(160px, 1.4fr) auto minmax(160px, 2fr) auto;
  grid-template-areas: "meta controls progress extras" "status status status status";
  align-items: center;
  column-gap: 14px;
  padding: 8px 14px;
  box-sizing: border-box;
  width: 100%;
  border: 1px solid var(--line);
  border-radius: calc(var(--st-base-radius, 0.5rem) * 1.5);
  background: var(--st-secondary-background-color, #f0f2f6);
  color: var(--st-text-color, #31333f);
  font-family: var(--st-font, "Source Sans Pro", sans-serif);
  font-size: 14px;
  line-height: 1.25;
}
.meta { grid-area: meta; display: flex; align-items: center; gap: 10px; min-width: 0; }
.cover {
  flex: none; width: 40px; height: 40px; border-radius: 8px;
  display: grid; place-items: center;
  background: linear-gradient(135deg, var(--mood), color-mix(in srgb, var(--mood) 55%, #000));
}
.cover svg { width: 20px; height: 20px; fill: rgba(255, 255, 255, 0.92); }
.text { min-width: 0; }
.title, .artist, .mood { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.title { font-weight: 600; }
.sub { display: flex; align-items: center; min-width: 0; color: var(--muted-text); font-size: 12.5px; }
.artist { flex: 0 1 auto; min-width: 0; }
.mood { flex: 0 1000 auto; min-width: 0; display: flex; align-items: center; }
.mood:not(:empty)::before {
  content: ""; flex: none; width: 8px; height: 8px; border-radius: 50%;
  background: var(--mood); margin: 0 5px 0 7px;
}
.controls, .extras { display: flex; align-items: center; gap: 6px; }
.controls { grid-area: controls; }
.extras { grid-area: extras; }
button, .download {
  display: inline-grid; place-items: center; flex: none;
  width: 34px; height: 34px; padding: 0; border-radius: 50%;
  border: 1px solid var(--line); background: transparent; color: inherit; cursor: pointer;
}
button:hover:not(:disabled), .download:hover { border-color: var(--accent); color: var(--accent); }
button:focus-visible, .download:focus-visible, input:focus-visible {
  outline: 2px solid var(--accent); outline-offset: 2px;
}
button:disabled { opacity: 0.4; cursor: default; }
button svg, .download svg { width: 18px; height: 18px; fill: currentColor; }
.mute svg, .download svg {
  fill: none; stroke: currentColor; stroke-width: 1.8; stroke-linecap: round; stroke-linejoin: round;
}
.mute svg path:first-child { fill: currentColor; stroke: none; }
button.play { width: 40px; height: 40px; background: var(--accent); border-color: var(--accent); color: #fff; }
button.play:hover:not(:disabled) { color: #fff; filter: brightness(1.08); }
.i-pause, .i-muted { display: none; }
.bar[data-state="playing"] .i-play { display: none; }
.bar[data-state="playing"] .i-pause { display: block; }
.bar.muted .i-vol { display: none; }
.bar.muted .i-muted { display: block; }
.progress { grid-area: progress; display: flex; align-items: center; gap: 8px; min-width: 0; }
.elapsed, .total { font-variant-numeric: tabular-nums; font-size: 12px; color: var(--muted-text); min-width: 34px; }
.elapsed { text-align: right; }
input[type="range"] {
  --p: 0%;
  -webkit-appearance: none; appearance: none; margin: 0; height: 18px; background: transparent; cursor: pointer;
}
input[type="range"]:disabled { cursor: default; }
.seek { flex: 1; min-width: 60px; }
.volume { width: 76px; }
input[type="range"]::-webkit-slider-runnable-track {
  height: 4px; border-radius: 2px;
  background: linear-gradient(to right, var(--accent) var(--p), var(--line) var(--p));
}
input[type="range"]::-webkit-slider-thumb {
  -webkit-appearance: none; appearance: none; width: 12px; height: 12px; margin-top: -4px;
  border-radius: 50%; background: var(--accent); border: none;
}
input[type="range"]::-moz-range-track { height: 4px; border-radius: 2px; background: var(--line); }
input[type="range"]::-moz-range-progress { height: 4px; border-radius: 2px; background: var(--accent); }
input[type="range"]::-moz-range-thumb {
  width: 12px; height: 12px; border-radius: 50%; background: var(--accent); border: none;
}
.status { grid-area: status; font-size: 12px; color: var(--muted-text); }
.status:empty { display: none; }
.status:not(:empty) { padding-top: 4px; }
.bar[data-state="empty"] .title { color: var(--muted-text); font-weight: 400; }

/* A narrower bar keeps the mood's colour dot and drops its words (they are in the tooltip). */
@container (max-width: 860px) {
  .mood { font-size: 0; }
}
/* A phone, or a narrow column: title and buttons on one row, the progress under them. */
@container (max-width: 560px) {
  .bar {
    grid-template-columns: minmax(0, 1fr) auto;
    grid-template-areas: "meta controls" "progress extras" "status status";
    row-gap: 4px;
    padding: 8px 10px;
  }
  .mute, .volume { display: none; }
  .mood { font-size: inherit; }  /* the title row has room again */
  .extras { justify-content: flex-end; }
  .download { width: 30px; height: 30px; border-color: transparent; }
}
.download[hidden] { display: none; }
"""

_JS = r"""
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
const round = (t) => (Number.isFinite(t) ? Math.round(t * 1000) / 1000 : null);
const EDITABLE = "input, textarea, select, [contenteditable=''], [contenteditable='true']";
const INTERACTIVE = EDITABLE + ", button, a[href], [role=button], [role=slider], [role=radio], " +
  "[role=checkbox], [role=switch], [role=tab], [role=option], [role=combobox], [role=menuitem]";

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
      audio.addEventListener(name, () => this.render());
    }
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
      const play = Boolean(data.autoplay) || this.flowing || (this.track && !this.audio.paused);
      this.left.clear();
      this.upcoming = (data.upcoming || []).slice();
      this.load(current, Number(data.start_at_s) || 0, play);
    }
    this.render();
  }

  // ------------------------------------------------------------------ playback
  load(track, startAt, play) {
    this.switching = true;
    this.track = track;
    this.started = false;
    this.startAt = startAt > 0 ? startAt : 0;
    this.status = "";
    this.audio.src = new URL(track.url, document.baseURI).href;
    this.audio.dataset.trackId = String(track.id);
    if (play) this.play();
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
    this.status = "";
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
    this.status = "This track can't be played.";
    this.render();
    const failed = this.track;
    // A broken file mustn't stall the queue.
    setTimeout(() => { if (this.track === failed && this.upcoming.length) this.advance(); }, 1500);
  }

  // ------------------------------------------------------------------ the bar's DOM
  bind(root) {
    const bar = root.querySelector(".bar");
    if (!bar) return;
    if (this.ui && this.ui.bar === bar) return;
    const q = (s) => bar.querySelector(s);
    const ui = (this.ui = {
      bar, title: q(".title"), sub: q(".sub"), artist: q(".artist"), mood: q(".mood"), play: q(".play"),
      next: q(".next"),
      seek: q(".seek"), elapsed: q(".elapsed"), total: q(".total"), mute: q(".mute"),
      volume: q(".volume"), download: q(".download"), status: q(".status"),
    });
    ui.play.addEventListener("click", () => this.toggle());
    ui.next.addEventListener("click", () => this.next());
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
    ui.bar.dataset.trackId = t ? String(t.id) : "";
    ui.title.textContent = t ? t.title : "Nothing playing";
    ui.artist.textContent = t ? t.artist : "";
    ui.mood.textContent = t && t.mood ? t.mood : "";
    ui.sub.title = t ? [t.artist, t.mood].filter(Boolean).join(" · ") : "";
    ui.bar.style.setProperty("--mood", t && t.colour ? t.colour : "#888888");
    ui.play.disabled = !t;
    ui.play.setAttribute("aria-label", state === "playing" ? "Pause" : "Play");
    ui.play.title = state === "playing" ? "Pause (space)" : "Play (space)";
    ui.next.disabled = !t;
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
"""

_component = st.components.v2.component("moodtune_now_playing", html=_HTML, css=_CSS, js=_JS)


def media_url(path: Path, mimetype: str, coordinates: str) -> str:
    """A URL under Streamlit's /media endpoint for a file on disk, registered for this run (the
    same file gives the same URL on every run). Relative, so an app served under a base path
    resolves it against the page's own address. Empty when no Streamlit runtime is running."""
    if not runtime.exists():
        return ""
    return runtime.get_instance().media_file_mgr.add(str(path), mimetype, coordinates).lstrip("/")


def _colour(colours: Mapping[str, str] | None, quadrant: str) -> str:
    colour = (colours or {}).get(quadrant, _FALLBACK_COLOUR)
    return colour if _COLOUR_RE.match(colour) else _FALLBACK_COLOUR


def _bar_track(
    track: TrackSummary, store: MediaStore, colours: Mapping[str, str] | None, key: str
) -> dict[str, object] | None:
    """What the bar needs of a track, or None when its audio file is gone."""
    try:
        path = store.local_path(track.media_path)
        # A bucket's track: a signed URL the browser streams from the bucket itself.
        url = None if path is not None or not store.exists(track.media_path) else store.playback_url(track.media_path)
    except MediaPathError:
        return None
    if path is None and url is None:
        return None
    suffix = Path(track.media_path).suffix
    return {
        "id": track.track_id,
        "title": track.title,  # user data: the bar sets it as text, never as HTML
        "artist": track.artist,
        "mood": QUADRANT_NAMES.get(track.quadrant, ""),
        "colour": _colour(colours, track.quadrant),
        "duration_s": float(track.duration_s),
        # One coordinate per track: the manager keeps one file per (session, coordinate).
        "url": url or media_url(path, mime_type(path), f"{key}.track.{track.track_id}"),
        "download": download_name(track, suffix),
    }


def now_playing_bar(
    current: TrackSummary | None,
    upcoming: Sequence[TrackSummary] = (),
    *,
    key: str = "now_playing",
    store: MediaStore | None = None,
    colours: Mapping[str, str] | None = None,
    autoplay: bool = False,
    start_at_s: float = 0.0,
    on_report: Callable[[], None] | None = None,
) -> object:
    """Render the bar for `current`, followed by `upcoming` (the first few are handed over).

    Returns the bar's reports (its state value, `{"page": …, "events": [...]}`, or None before
    the first), which every rerun sees again: `app.listening.playback.PlayerLog.take` returns
    and stores each report once. Every report reruns the page; `on_report` (no arguments) runs
    before that rerun, when `reports_of(key)` already holds them: the place to take them, so
    the page can follow `PlayerLog.track_id` (where the bar moved on by itself) before it
    renders. Read what the store needs from session state before calling `take`.

    `autoplay` and `start_at_s` apply when the bar loads a track it doesn't already hold (a
    browser may still refuse to start audio before the listener has touched the page; the bar
    then asks for a press of play). A track whose file is missing is left out. `colours` maps
    a quadrant to the mood chip's CSS colour (#rgb or #rrggbb).
    """
    store = store or open_media_store()
    now = _bar_track(current, store, colours, key) if current is not None else None
    nexts = []
    for track in upcoming:
        if len(nexts) == UPCOMING_SENT:
            break
        if current is not None and track.track_id == current.track_id:
            continue
        item = _bar_track(track, store, colours, key)
        if item is not None:
            nexts.append(item)
    data = {
        "key": key,
        "current": now,
        "upcoming": nexts,
        "autoplay": bool(autoplay),
        "start_at_s": max(0.0, float(start_at_s or 0.0)),
    }
    result = _component(key=key, data=data, on_reports_change=on_report or _ignore)
    return result.get(REPORTS) if result is not None else None


def reports_of(key: str = "now_playing") -> object:
    """The bar's reports as they stand in session state (inside an `on_report` callback)."""
    value = st.session_state.get(key)
    return value.get(REPORTS) if isinstance(value, Mapping) else None


def _ignore() -> None:
    """Registers the state value (a component only keeps state it has a callback for)."""
