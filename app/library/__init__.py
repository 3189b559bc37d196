"""Bringing music into the catalog: type sniffing, decode checks, ingest, retag and the
analysis executor they run on.

    formats   the one list of accepted audio formats; type sniffing from bytes
    checks    size/duration limits, decode checks, title/artist from tags or the file name
    ingest    files, folders and uploads → catalog rows, all or nothing per file
    retag     the mood model again over every track a curator hasn't set
    executor  typed jobs and the executor interface (in-process, local process pool)
    tagging   which mood tagger analysis uses (the model, or one passed as `tagger=`)
    curation  what the Curate page asks of the library and the catalog

The catalog (`app.catalog`) keeps the schema, sessions, queries and the media store; this
package is the only writer that brings new audio in.
"""

from app.library.executor import (
    ANALYSIS_POOL,
    AnalysisExecutor,
    AnalysisJob,
    InProcessExecutor,
    LocalProcessPool,
    RetagJob,
    WorkerLost,
)
from app.library.formats import ACCEPTED_FORMATS, UPLOAD_EXTENSIONS, mime_type, sniff_format
from app.library.ingest import (
    ImportSummary,
    IngestResult,
    collect_audio_files,
    ingest_bytes,
    ingest_files,
    ingest_paths,
)
from app.library.retag import RetagResult, RetagSummary, retag_catalog
from app.library.tagging import IngestSetupError, Tagger

__all__ = [
    "ACCEPTED_FORMATS",
    "ANALYSIS_POOL",
    "UPLOAD_EXTENSIONS",
    "AnalysisExecutor",
    "AnalysisJob",
    "ImportSummary",
    "InProcessExecutor",
    "IngestResult",
    "IngestSetupError",
    "LocalProcessPool",
    "RetagJob",
    "RetagResult",
    "RetagSummary",
    "Tagger",
    "WorkerLost",
    "collect_audio_files",
    "ingest_bytes",
    "ingest_files",
    "ingest_paths",
    "mime_type",
    "retag_catalog",
    "sniff_format",
]
