"""Catalog reads and writes. Every function takes an open Session; the caller owns the
transaction (use `app.catalog.db.session_scope()`). Queries use ORM parameters only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, event, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.catalog import rollups
from app.catalog.media import MediaStore, open_media_store
from app.catalog.models import ACTIONS, ListeningEvent, MoodEvent, Track
from app.catalog.summary import TrackSummary
from app.config import get_settings
from app.emotions import FACE_LABELS, QUADRANT_VA, QUADRANTS, emotion_to_point, quadrant_of

CURATOR = "curator"  # Track.tagged_by of a mood a curator set; anything else is "model:<version>"
TAGGED_BY = ("model", "curator")  # the search filter's choices
MAX_TEXT = 255


def clean_text(value: str | None, *, limit: int = MAX_TEXT) -> str:
    """Printable, single-line, length-limited text for titles/artists from tags or forms."""
    if value is None:
        return ""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    return " ".join(text.split())[:limit]


# ----------------------------------------------------------------------------- tracks


def add_track(
    session: Session,
    *,
    title: str,
    artist: str,
    album: str | None,
    duration_s: float,
    sha256: str,
    media_path: str,
    format: str,
    quadrant: str,
    valence: float,
    arousal: float,
    probabilities: Mapping[str, float],
    tagged_by: str,
    confidence: float | None = None,
    timeline: Iterable[Sequence[float]] | None = None,
) -> Track:
    """A new track; `confidence` and `timeline` as `Track.set_mood` takes them (see `mood_fields`
    for a model tag's)."""
    track = Track(
        title=clean_text(title) or "Untitled",
        artist=clean_text(artist) or "Unknown artist",
        album=clean_text(album) or None,
        duration_s=float(duration_s),
        sha256=sha256,
        media_path=media_path,
        format=format,
        tagged_by=tagged_by,
    )
    track.set_mood(quadrant, valence, arousal, dict(probabilities), confidence=confidence, timeline=timeline)
    session.add(track)
    session.flush()  # assigns the id and surfaces constraint errors inside the caller's transaction
    return track


def mood_fields(tag: Any) -> dict[str, Any]:
    """A model tag (app.music.MoodTag) as the keyword arguments of `Track.set_mood` and
    `add_track`: its quadrant, point, probabilities, confidence and timeline. A stand-in tag
    without a timeline (or confidence) stores none."""
    return {
        "quadrant": tag.quadrant,
        "valence": float(tag.valence),
        "arousal": float(tag.arousal),
        "probabilities": {q: float(p) for q, p in tag.probabilities.items()},
        "confidence": getattr(tag, "confidence", None),
        "timeline": [(p.start_s, p.end_s, p.valence, p.arousal) for p in getattr(tag, "timeline", ())],
    }


def get_track(session: Session, track_id: int) -> Track | None:
    return session.get(Track, track_id)


def get_track_by_sha(session: Session, sha256: str) -> Track | None:
    return session.scalar(select(Track).where(Track.sha256 == sha256))


# The columns a TrackSummary is made of. Read as plain rows: a ranking reads a few hundred
# tracks at a time, and ORM objects (identity map, relationships) would cost more than the query.
_SUMMARY_COLUMNS = (
    Track.id,
    Track.title,
    Track.artist,
    Track.album,
    Track.quadrant,
    Track.valence,
    Track.arousal,
    Track.duration_s,
    Track.media_path,
    Track.format,
    Track.tagged_by,
    Track.prob_q1,
    Track.prob_q2,
    Track.prob_q3,
    Track.prob_q4,
    Track.confidence,
    Track.end_valence,
    Track.end_arousal,
    Track.mood_timeline,
)
_SUMMARIES = select(*_SUMMARY_COLUMNS).where(Track.id.in_(bindparam("ids", expanding=True)))
# A ranking reads every candidate's summary but no timeline: parsing each one's JSON would cost
# more than the rest of its row (its end, which ranking uses, has columns of its own).
_TIMELINE_AT = len(_SUMMARY_COLUMNS) - 1  # the timeline is the summary row's last column
_RANKING_SUMMARIES = select(*_SUMMARY_COLUMNS[:_TIMELINE_AT]).where(Track.id.in_(bindparam("ids", expanding=True)))


def _summary_of_row(row: Any) -> TrackSummary:
    """`TrackSummary.of` for a row of `_SUMMARY_COLUMNS` (the same fields, without the ORM; the
    timeline empty when the row stops before it)."""
    tid, title, artist, album, quadrant, v, a, duration, media, fmt, tagged, q1, q2, q3, q4, conf, end_v, end_a = row[
        :_TIMELINE_AT
    ]
    timeline = row[_TIMELINE_AT] if len(row) > _TIMELINE_AT else None
    return TrackSummary(
        track_id=int(tid),
        title=title,
        artist=artist,
        album=album,
        quadrant=quadrant,
        valence=float(v),
        arousal=float(a),
        duration_s=float(duration),
        media_path=media,
        format=fmt,
        tagged_by=tagged,
        probabilities={"Q1": float(q1), "Q2": float(q2), "Q3": float(q3), "Q4": float(q4)},
        confidence=None if conf is None else float(conf),
        timeline=tuple((float(s), float(e), float(pv), float(pa)) for s, e, pv, pa in (timeline or ())),
        ending=None if end_v is None else (float(end_v), float(end_a)),
    )


def track_summaries(session: Session, track_ids: Sequence[int], *, timeline: bool = True) -> list[TrackSummary]:
    """Summaries in the order of `track_ids` (missing ids are dropped). `timeline=False` leaves
    their timelines out (reads that only rank tracks: `TrackSummary.ending` still says how each
    ends)."""
    if not track_ids:
        return []
    statement = _SUMMARIES if timeline else _RANKING_SUMMARIES
    by_id = {int(r[0]): r for r in session.execute(statement, {"ids": list(track_ids)})}
    return [_summary_of_row(by_id[i]) for i in track_ids if i in by_id]


def list_tracks(session: Session, *, quadrant: str | None = None, limit: int = 100, offset: int = 0) -> list[Track]:
    """Newest first, optionally one quadrant."""
    stmt = select(Track).order_by(Track.created_at.desc(), Track.id.desc()).limit(limit).offset(offset)
    if quadrant:
        stmt = stmt.where(Track.quadrant == quadrant)
    return list(session.scalars(stmt))


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_tracks(
    session: Session,
    query: str,
    *,
    quadrant: str | None = None,
    tagged_by: str | None = None,
    confidence_below: float | None = None,
    limit: int = 50,
) -> list[TrackSummary]:
    """Case-insensitive substring match on title, artist or album (wildcards are literal), by
    title. ``tagged_by`` is "curator", "model" or None for both. ``confidence_below`` keeps only
    model tags less sure than that, least sure first. Every filter is part of the query, so
    ``limit`` bounds the matching rows, not rows a later filter would drop."""
    if tagged_by is not None and tagged_by not in TAGGED_BY:
        raise ValueError(f"unknown tagged_by {tagged_by!r}; expected one of {', '.join(TAGGED_BY)}")
    if confidence_below is None:
        stmt = select(Track).order_by(Track.title, Track.id).limit(limit)
    else:
        stmt = (
            select(Track)
            .where(Track.tagged_by != CURATOR, Track.confidence.is_not(None), Track.confidence < confidence_below)
            .order_by(Track.confidence, Track.title, Track.id)
            .limit(limit)
        )
    text = clean_text(query)
    if text:
        pattern = _like_pattern(text)
        stmt = stmt.where(
            or_(
                Track.title.ilike(pattern, escape="\\"),
                Track.artist.ilike(pattern, escape="\\"),
                Track.album.ilike(pattern, escape="\\"),
            )
        )
    if quadrant:
        stmt = stmt.where(Track.quadrant == quadrant)
    if tagged_by == "curator":
        stmt = stmt.where(Track.tagged_by == CURATOR)
    elif tagged_by == "model":
        stmt = stmt.where(Track.tagged_by != CURATOR)
    return [TrackSummary.of(t) for t in session.scalars(stmt)]


def update_track(
    session: Session,
    track_id: int,
    *,
    title: str | None = None,
    artist: str | None = None,
    album: str | None = None,
) -> Track:
    """Edit metadata (None leaves a field unchanged). Raises LookupError if there is no such track."""
    track = _require(session, track_id)
    if title is not None:
        track.title = clean_text(title) or track.title
    if artist is not None:
        track.artist = clean_text(artist) or track.artist
    if album is not None:
        track.album = clean_text(album) or None
    session.flush()
    return track


def set_track_mood_by_curator(
    session: Session,
    track_id: int,
    quadrant: str,
    *,
    valence: float | None = None,
    arousal: float | None = None,
) -> Track:
    """Curator override. The track keeps its model point when it already lies in that quadrant,
    otherwise moves to the quadrant's centre; tagged_by becomes 'curator' so retagging keeps it.
    The confidence goes (a person decided); the timeline stays (it describes the audio).
    """
    if quadrant not in QUADRANTS:
        raise ValueError(f"unknown quadrant {quadrant!r}; expected one of {', '.join(QUADRANTS)}")
    track = _require(session, track_id)
    if valence is None or arousal is None:
        if quadrant_of(track.valence, track.arousal) == quadrant:
            valence, arousal = track.valence, track.arousal
        else:
            valence, arousal = QUADRANT_VA[quadrant]
    if not (-1 <= valence <= 1 and -1 <= arousal <= 1):
        raise ValueError("valence and arousal must be within [-1, 1]")
    if quadrant_of(valence, arousal) != quadrant:
        raise ValueError(f"valence {valence:+.2f}, arousal {arousal:+.2f} is not in {quadrant}")
    track.set_mood(quadrant, valence, arousal, {q: float(q == quadrant) for q in QUADRANTS}, confidence=None)
    track.tagged_by = CURATOR
    session.flush()
    return track


def set_track_mood_by_model(session: Session, track: Track, tag, version: str) -> bool:
    """Apply a model tag unless a curator has set the mood. Returns whether it changed the track."""
    if track.tagged_by == CURATOR:
        return False
    track.set_mood(**mood_fields(tag))
    track.tagged_by = f"model:{version}"
    session.flush()
    return True


def offered_to_listeners(fragment_below_s: float | ColumnElement[float] | None = None) -> ColumnElement[bool]:
    """SQL condition for a track listeners may be offered: not a fragment (shorter than
    `fragment_below_s`, by default Settings.fragment_below_s: a jingle's model tag is a guess)
    unless a curator has set its mood. A cached statement passes a bound parameter instead."""
    below = get_settings().fragment_below_s if fragment_below_s is None else fragment_below_s
    return or_(Track.duration_s >= below, Track.tagged_by == CURATOR)


def model_tagged_track_ids(session: Session) -> list[int]:
    """Ids of tracks a retag may change (everything not set by a curator)."""
    return list(session.scalars(select(Track.id).where(Track.tagged_by != CURATOR).order_by(Track.id)))


def delete_track(session: Session, track_id: int, store: MediaStore | None = None) -> bool:
    """Delete the track and its listening events; its media file goes once the transaction commits."""
    track = session.get(Track, track_id)
    if track is None:
        return False
    media_path = track.media_path
    rollups.subtract_listening(session, ListeningEvent.track_id == track_id)
    session.execute(delete(ListeningEvent).where(ListeningEvent.track_id == track_id))
    session.delete(track)
    session.flush()
    store = store or open_media_store()
    # Only after commit: a rolled-back delete must still find its file.
    event.listen(session, "after_commit", lambda _s: store.remove(media_path), once=True)
    return True


def _require(session: Session, track_id: int) -> Track:
    track = session.get(Track, track_id)
    if track is None:
        raise LookupError(f"no track with id {track_id}")
    return track


# ----------------------------------------------------------------------------- events


def record_listening(
    session: Session,
    session_id: str,
    track_id: int,
    action: str,
    *,
    strategy: str | None = None,
    emotion: str | None = None,
    valence: float | None = None,
    arousal: float | None = None,
    position_s: float | None = None,
    completed: bool | None = None,
) -> ListeningEvent:
    """One listening event (`action` from ACTIONS). `position_s` is where in the track it
    happened, as the player reported it; `completed` whether the track had played to its end
    (default: the action is "completed")."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if not session_id:
        raise ValueError("a session id is required")
    if position_s is not None and not (math.isfinite(position_s) and position_s >= 0):
        raise ValueError(f"position_s must be a number of seconds >= 0, not {position_s!r}")
    event_row = ListeningEvent(
        session_id=session_id[:64],
        track_id=track_id,
        action=action,
        strategy=strategy,
        emotion=emotion,
        valence=valence,
        arousal=arousal,
        position_s=None if position_s is None else float(position_s),
        completed=action == "completed" if completed is None else bool(completed),
    )
    session.add(event_row)
    session.flush()  # counted in the rollups by app.catalog.rollups' insert hook
    return event_row


def record_mood(session: Session, session_id: str, distribution: Mapping[str, float]) -> MoodEvent:
    """Store a mood reading: the face-label distribution, its top label and its circumplex point."""
    if not session_id:
        raise ValueError("a session id is required")
    clean = {k: round(float(v), 4) for k, v in distribution.items() if k in FACE_LABELS}
    point = emotion_to_point(clean)  # raises ValueError on an empty distribution
    label = max(clean, key=clean.__getitem__)
    row = MoodEvent(
        session_id=session_id[:64], distribution=clean, label=label, valence=point.valence, arousal=point.arousal
    )
    session.add(row)
    session.flush()  # counted in the rollups by app.catalog.rollups' insert hook
    return row


def forget_session(session: Session, session_id: str) -> tuple[int, int]:
    """Delete everything recorded for a listener session. Returns (listening, mood) rows deleted."""
    rollups.subtract_listening(session, ListeningEvent.session_id == session_id)
    rollups.forget_session_days(session, session_id)
    rollups.subtract_mood(session, MoodEvent.session_id == session_id)
    listening = session.execute(delete(ListeningEvent).where(ListeningEvent.session_id == session_id)).rowcount
    mood = session.execute(delete(MoodEvent).where(MoodEvent.session_id == session_id)).rowcount
    return int(listening or 0), int(mood or 0)


@dataclass(frozen=True)
class Feedback:
    plays: int = 0
    likes: int = 0
    skips: int = 0

    @property
    def approval(self) -> float:
        """Laplace-smoothed share of likes among likes+skips: 0.5 when there is no evidence."""
        return (self.likes + 1) / (self.likes + self.skips + 2)


# Built once: the ranking runs it on every recommendation (the ids are one expanding parameter).
_FEEDBACK = (
    select(ListeningEvent.track_id, ListeningEvent.action, func.count())
    .where(ListeningEvent.track_id.in_(bindparam("ids", expanding=True)))
    .group_by(ListeningEvent.track_id, ListeningEvent.action)
)


def track_feedback(session: Session, track_ids: Sequence[int]) -> dict[int, Feedback]:
    """Overall play/like/skip counts for the given tracks (uses the (track_id, action) index)."""
    if not track_ids:
        return {}
    rows = session.execute(_FEEDBACK, {"ids": list(track_ids)})
    counts: dict[int, dict[str, int]] = {}
    for track_id, action, n in rows:
        counts.setdefault(track_id, {})[action] = int(n)
    return {tid: Feedback(c.get("played", 0), c.get("liked", 0), c.get("skipped", 0)) for tid, c in counts.items()}


# ----------------------------------------------------------------------------- counts


def count_tracks(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Track)) or 0)


def counts_by_quadrant(session: Session) -> dict[str, int]:
    rows = session.execute(select(Track.quadrant, func.count()).group_by(Track.quadrant))
    counts = {q: 0 for q in QUADRANTS}
    counts.update({q: int(n) for q, n in rows})
    return counts


def catalog_counts(session: Session) -> dict[str, int]:
    return {
        "tracks": count_tracks(session),
        "listening_events": int(session.scalar(select(func.count()).select_from(ListeningEvent)) or 0),
        "mood_events": int(session.scalar(select(func.count()).select_from(MoodEvent)) or 0),
    }
