"""Mood-aware recommendations from the catalog, in three parts: `ranking` (what a listener gets,
best first), `search` (the nearest tracks to a point, through the grid index) and `reasons` (why
each track, in a line). The names the rest of the app uses are importable from here."""

from app.recommend.ranking import MoodInput, Recommendation, listener_point, recommend
from app.recommend.reasons import (
    PURPOSES,
    REPLAY_NOTE,
    describe_listener,
    describe_place,
    describe_track_mood,
    reason_for,
    track_words,
)
from app.recommend.search import nearest_for_targets, nearest_track_ids

__all__ = [
    "PURPOSES",
    "REPLAY_NOTE",
    "MoodInput",
    "Recommendation",
    "describe_listener",
    "describe_place",
    "describe_track_mood",
    "listener_point",
    "nearest_for_targets",
    "nearest_track_ids",
    "reason_for",
    "recommend",
    "track_words",
]
