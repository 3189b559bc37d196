"""Retag: run the mood model again on every track a curator hasn't set (e.g. after retraining)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.media import local_copy_of, open_media_store
from app.config import Settings, get_settings
from app.library.executor import AnalysisExecutor, RetagJob, analyse_all, describe_failure
from app.library.tagging import Tagger, load_tagger, tagger_version


@dataclass(frozen=True)
class RetagResult:
    track_id: int
    title: str
    status: str  # "retagged" (the mood moved to another quadrant) | "unchanged" (same quadrant) | "failed"
    message: str
    artist: str | None = None
    quadrant: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    @property
    def source(self) -> str:
        """What progress lines name: the track."""
        return self.title


@dataclass
class RetagSummary:
    results: list[RetagResult] = field(default_factory=list)

    @property
    def retagged(self) -> int:
        return sum(r.status == "retagged" for r in self.results)

    @property
    def unchanged(self) -> int:
        return sum(r.status == "unchanged" for r in self.results)

    @property
    def failed(self) -> list[RetagResult]:
        return [r for r in self.results if r.status == "failed"]

    def as_json(self) -> dict[str, Any]:
        """`python -m app retag --json`."""
        return {
            "retagged": self.retagged,
            "unchanged": self.unchanged,
            "failed": [{"track_id": r.track_id, "title": r.title, "error": r.message} for r in self.failed],
        }


RetagProgress = Callable[[int, int, RetagResult], None]


@dataclass(frozen=True)
class _Retagged:
    """The new mood of one track (what the task hands back)."""

    tag: Any  # a MoodTag
    version: str


def retag_file(job: RetagJob, tagger: Tagger | None = None) -> _Retagged | str:
    """The mood of one stored track: the task an executor runs. A message when it can't be read."""
    from app.music.audio import AudioError

    tagger = tagger if tagger is not None else load_tagger()
    try:
        with local_copy_of(job.path) as path:  # a bucket's object is downloaded for the task
            return _Retagged(tagger.tag(str(path)), tagger_version(tagger))
    except (AudioError, OSError, ValueError) as exc:
        return f"could not retag: {exc}"


def retag_catalog(
    *,
    settings: Settings | None = None,
    progress: RetagProgress | None = None,
    workers: int | None = None,
    tagger: Tagger | None = None,
    executor: AnalysisExecutor | None = None,
) -> RetagSummary:
    """Re-run the mood model on every track a curator hasn't set. A curator's mood set meanwhile
    is kept. Raises IngestSetupError if the mood model can't load."""
    settings = settings or get_settings()
    workers = settings.analysis_workers if workers is None else workers
    store = open_media_store(settings)
    summary = RetagSummary()
    jobs: list[RetagJob] = []
    titles: dict[int, str] = {}
    with session_scope(settings.database_url) as session:
        for track_id in repository.model_tagged_track_ids(session):
            track = repository.get_track(session, track_id)
            titles[track_id] = track.title
            try:
                jobs.append(RetagJob(track_id, store.locator(track.media_path)))
            except (OSError, ValueError) as exc:  # MediaPathError is a ValueError
                summary.results.append(RetagResult(track_id, track.title, "failed", f"could not retag: {exc}"))
    total = len(jobs) + len(summary.results)
    for job, outcome in analyse_all(retag_file, jobs, workers=workers, tagger=tagger, executor=executor):
        if isinstance(outcome, Exception):
            result = RetagResult(job.track_id, titles[job.track_id], "failed", describe_failure(outcome))
        elif isinstance(outcome, str):
            result = RetagResult(job.track_id, titles[job.track_id], "failed", outcome)
        else:
            with session_scope(settings.database_url) as session:
                track = repository.get_track(session, job.track_id)
                if track is None:  # deleted meanwhile
                    continue
                before = track.quadrant
                if not repository.set_track_mood_by_model(session, track, outcome.tag, outcome.version):
                    status, message = "unchanged", f"kept as {track.quadrant}: a curator set its mood meanwhile"
                elif track.quadrant == before:
                    status, message = "unchanged", f"retagged, still {track.quadrant}"
                else:
                    status, message = "retagged", f"retagged as {track.quadrant}"
                result = RetagResult(track.id, track.title, status, message, track.artist, track.quadrant)
        summary.results.append(result)
        if progress is not None:
            progress(len(summary.results), total, result)
    return summary
