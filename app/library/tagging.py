"""Which mood tagger an import uses.

By default analysis loads `app.music.MoodTagger.load()` where it runs (in a worker process, or
here when there are no workers; its `override()` stands in for it in this process). Code that
needs another tagger passes `tagger=` to the ingest and retag functions: that object lives in
this process, so analysis then runs here.
"""

from __future__ import annotations

from typing import Any, Protocol


class IngestSetupError(RuntimeError):
    """The import can't start at all (e.g. the mood model is missing)."""


class Tagger(Protocol):
    """What ingest needs of a mood tagger (app.music.MoodTagger, or a stand-in)."""

    def tag(self, path_or_array: Any, sr: int | None = None) -> Any:
        """A result with .quadrant, .probabilities, .valence and .arousal."""
        ...


def load_tagger() -> Tagger:
    """The mood model, loaded once per process (MoodTagger.load keeps it)."""
    try:
        from app.music import MoodTagger

        return MoodTagger.load()
    except Exception as exc:
        raise IngestSetupError(f"the music mood model could not be loaded: {exc}") from None


def tagger_version(tagger: Any) -> str:
    return str(getattr(tagger, "version", None) or getattr(type(tagger), "version", "unknown"))


def check_tagger(tagger: Tagger | None = None) -> str:
    """Run where analysis runs, before any file: one clear IngestSetupError if the model can't
    load there instead of one failure per file. Returns the model version."""
    return tagger_version(tagger if tagger is not None else load_tagger())
