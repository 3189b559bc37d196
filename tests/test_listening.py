"""The listener's domain without Streamlit: the live frame path (holder and processor, with
plain arrays instead of av frames), mood readings and the session's queue."""

from __future__ import annotations

import pytest

from app.catalog.summary import TrackSummary
from app.listening.mood import MoodLogThrottle, reading_from_faces, reading_from_label, reading_from_point
from app.listening.session import QUEUE_LENGTH, ListenerSession
from app.recommend import Recommendation


def test_frame_processor_feeds_the_holder_and_draws_the_overlay():
    """The WebRTC callback's work, with a stand-in analyzer (no model) and the real smoother and
    overlay: the holder gets a smoothed mood, the frame comes back with the overlay, and analysis
    is throttled so a 30 fps stream doesn't run the model 30 times a second."""
    import numpy as np

    from app.listening.live import MoodHolder, make_frame_processor
    from app.vision import Face, MoodSmoother, draw_overlay

    class OneHappyFace:
        calls = 0

        def analyze(self, image):
            self.calls += 1
            probs = {label: 0.02 for label in ("angry", "disgust", "fear", "neutral", "sad", "surprise")}
            probs["happy"] = 0.88
            return [Face((200, 120, 200, 200), "happy", probs)]

    now = [0.0]
    analyzer, holder = OneHappyFace(), MoodHolder()
    process = make_frame_processor(analyzer, holder, MoodSmoother(), draw_overlay, clock=lambda: now[0])
    frame = np.full((480, 640, 3), 90, np.uint8)
    assert holder.snapshot().frames_seen == 0
    for i in range(30):  # one second at 30 fps
        now[0] = i / 30
        out = process(frame)
    snap = holder.snapshot()
    assert snap.mood is not None and snap.mood.label == "happy" and snap.error is None
    assert 4 <= analyzer.calls <= 6  # every ANALYSIS_INTERVAL_S (0.2 s), not every frame
    assert (out != frame).any(axis=2).sum() > 2000  # the box and label are drawn
    assert (frame == 90).all()  # the camera's frame itself is not modified


def test_frame_processor_survives_a_failing_model_and_reports_it():
    import numpy as np

    from app.listening.live import MoodHolder, make_frame_processor
    from app.vision import MoodSmoother, draw_overlay

    class Broken:
        def analyze(self, image):
            raise RuntimeError("model exploded")

    holder = MoodHolder()
    process = make_frame_processor(Broken(), holder, MoodSmoother(), draw_overlay)
    frame = np.zeros((48, 64, 3), np.uint8)
    assert process(frame) is frame
    assert "model exploded" in holder.snapshot().error


# ----------------------------------------------------------------------------- readings and queue


def _rec(track_id: int, artist: str = "A") -> Recommendation:
    track = TrackSummary(
        track_id=track_id,
        title=f"T{track_id}",
        artist=artist,
        album=None,
        quadrant="Q3",
        valence=-0.5,
        arousal=-0.5,
        duration_s=30.0,
        media_path=f"aa/{track_id}.wav",
        format="wav",
        tagged_by="model:test",
        probabilities={"Q1": 0.1, "Q2": 0.1, "Q3": 0.7, "Q4": 0.1},
    )
    return Recommendation(track=track, score=0.5, reason="because")


def test_the_queue_holds_recommendations_and_next_and_skip_keep_them_out_for_the_session():
    catalog = list(range(1, 30))

    def recommend(mood, strategy, exclude, n):
        return [_rec(t) for t in catalog if t not in exclude][:n]

    session = ListenerSession()
    assert session.set_mood(reading_from_label("sad")) is True
    session.refill(recommend)
    assert [r.track_id for r in session.queue] == [1, 2, 3, 4, 5] and len(session.queue) == QUEUE_LENGTH
    assert session.queue[0].track.media_path == "aa/1.wav"
    assert session.skip(2).track_id == 2 and session.next().track_id == 1
    session.refill(recommend)
    assert [r.track_id for r in session.queue] == [3, 4, 5, 6, 7]
    # A new strategy keeps the playing head and rebuilds what follows, still without 1 and 2.
    session.set_strategy("lift")
    session.refill(recommend)
    assert session.queue[0].track_id == 3 and {1, 2}.isdisjoint(r.track_id for r in session.queue)


def test_a_jittery_point_keeps_its_queue_basis_and_the_throttle_logs_changes_or_every_interval():
    assert reading_from_point(0.51, 0.49).basis() == reading_from_point(0.49, 0.52).basis()
    assert reading_from_point(0.5, 0.5).basis() != reading_from_point(-0.5, 0.5).basis()
    throttle = MoodLogThrottle(interval_s=15)
    sad, happy = reading_from_label("sad"), reading_from_label("happy")
    assert [throttle.should_log(r, t) for r, t in [(sad, 0), (sad, 5), (happy, 6), (happy, 22)]] == [
        True,
        False,
        True,
        True,
    ]


def test_the_biggest_face_in_a_still_picture_decides_the_mood():
    from app.vision import Face

    small = Face((0, 0, 20, 20), "sad", {"sad": 0.9, "happy": 0.1})
    big = Face((50, 50, 120, 120), "happy", {"sad": 0.2, "happy": 0.8})
    reading = reading_from_faces([small, big], "photo")
    assert (reading.label, reading.source, reading.confidence) == ("happy", "photo", pytest.approx(0.8))
    assert reading_from_faces([], "photo") is None
