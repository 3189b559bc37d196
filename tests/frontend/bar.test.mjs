// Unit tests of the now-playing bar's JavaScript (node --test), run by tests/test_now_playing_frontend.py
// against a copy of app/ui/now_playing/frontend/bar.js. A small fake <audio> stands in for the
// browser's: the tests fire its events as a browser would.
import { test } from "node:test";
import assert from "node:assert/strict";

class FakeAudio {
  constructor() {
    this.handlers = {};
    this.dataset = {};
    this.paused = true;
    this.ended = false;
    this.currentTime = 0;
    this.duration = NaN;
    this.volume = 1;
    this.muted = false;
    this.error = null;
    this.src = "";
    this.loads = [];
  }
  addEventListener(name, handler) { (this.handlers[name] ||= []).push(handler); }
  fire(name) { for (const h of this.handlers[name] || []) h(); }
  getAttribute(name) { return name === "src" ? this.src : null; }
  removeAttribute() { this.src = ""; }
  set srcUrl(v) { this.src = v; }
  play() { this.paused = false; return Promise.resolve(); }
  pause() { this.paused = true; }
  load() {}
}

const storage = new Map();
globalThis.window = {
  sessionStorage: { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, String(v)) },
  localStorage: { getItem: () => null, setItem: () => {} },
};
globalThis.document = {
  baseURI: "http://app.test/mood",
  body: { appendChild() {} },
  createElement: () => new FakeAudio(),
  querySelectorAll: () => [],
};

const { Player, clock, readResume, writeResume } = await import(process.env.BAR_JS);

const track = (id) => ({ id, title: `Song ${id}`, artist: "Band", url: `audio/${id}?k=g${id}` });
const flush = () => new Promise((resolve) => setTimeout(resolve, 5));
const asked = [];
globalThis.fetch = async (url, options) => {
  asked.push([url, options.method]);
  return { status: 404, ok: false };  // the file is gone
};

function playerWithReports(key) {
  const player = new Player(key);
  const reports = [];
  player.setStateValue = (_name, value) => reports.splice(0, reports.length, ...value.events);
  return { player, reports };
}

test("clock shows minutes and seconds", () => {
  assert.equal(clock(0), "0:00");
  assert.equal(clock(75.9), "1:15");
  assert.equal(clock(NaN), "0:00");
});

test("a file that fails to load is tried once more, then passed over with a word and reported as failed", async () => {
  const { player, reports } = playerWithReports("fail");
  player.update({ current: track(1), upcoming: [track(2)], autoplay: true });
  assert.equal(player.audio.src, "http://app.test/audio/1?k=g1");
  player.audio.error = { code: 2 };
  player.audio.fire("error");  // the first failure: the same URL again, nothing reported
  await flush();
  assert.equal(player.track.id, 1);
  assert.equal(player.audio.src, "http://app.test/audio/1?k=g1");
  assert.deepEqual(reports, []);
  player.audio.fire("error");  // still failing: move on
  await flush();
  assert.equal(player.track.id, 2);
  assert.equal(player.audio.src, "http://app.test/audio/2?k=g2");
  assert.deepEqual(reports.map((r) => [r.kind, r.track_id]), [["failed", 1], ["advanced", 2]]);
  assert.ok(!reports.some((r) => r.kind === "skipped"));
  // Why, in words: the server says the track is gone.
  assert.deepEqual(asked, [["http://app.test/audio/1?k=g1", "HEAD"]]);
  assert.equal(player.status, 'Passed over "Song 1": it is no longer in the catalog.');
});

test("a reload resumes the same track at the same second, paused when it was paused", () => {
  writeResume("resume", { track_id: 7, position_s: 32.5, paused: true });
  assert.deepEqual(readResume("resume"), { track_id: 7, position_s: 32.5, paused: true });
  const { player } = playerWithReports("resume");
  player.update({ current: track(7), upcoming: [], autoplay: true, start_at_s: 0 });
  assert.equal(player.startAt, 32.5);
  assert.equal(player.audio.paused, true);  // autoplay asked, but it was paused
  player.audio.duration = 200;
  player.audio.fire("loadedmetadata");
  assert.equal(player.audio.currentTime, 32.5);
});

test("another track than the one saved starts where Python says, and plays", () => {
  writeResume("other", { track_id: 7, position_s: 32.5, paused: true });
  const { player } = playerWithReports("other");
  player.update({ current: track(8), upcoming: [], autoplay: true, start_at_s: 3 });
  assert.equal(player.startAt, 3);
  assert.equal(player.audio.paused, false);
});

test("Previous near a track's start asks Python for the track before; later it restarts this one", async () => {
  const { player, reports } = playerWithReports("previous");
  player.update({ current: track(3), upcoming: [], autoplay: true });
  player.audio.currentTime = 40;
  player.previous();
  assert.equal(player.audio.currentTime, 0);
  await flush();
  assert.deepEqual(reports, []);
  player.previous();
  await flush();
  assert.deepEqual(reports.map((r) => [r.kind, r.track_id]), [["previous", 3]]);
});
