"""Curator page: upload & tag, review & override, re-tag, import from a server folder.
Only reached through app.ui.auth.require_admin()."""

from __future__ import annotations

import math

import streamlit as st

from app.catalog import repository
from app.catalog.db import session_scope
from app.catalog.ingest import IngestResult, IngestSetupError, ingest_bytes, ingest_paths, retag_catalog
from app.catalog.media import MediaPathError, MediaStore
from app.config import get_settings
from app.emotions import QUADRANT_NAMES, QUADRANTS
from app.ui import curate_logic
from app.ui.player import mime_for

UPLOAD_TYPES = ["mp3", "wav", "ogg", "opus", "flac", "m4a", "aiff"]
_RESULTS = "_mt_upload_results"
_UPLOADER_NONCE = "_mt_uploader_nonce"


def _status_icon(result: IngestResult) -> str:
    return {"imported": "✅", "skipped": "↩️"}.get(result.status, "❌")


def _run_with_progress(label: str, work) -> list[IngestResult]:
    """Run ``work(progress)`` inside st.status with a progress bar and one line per file."""
    results: list[IngestResult] = []
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0)

        def progress(done: int, total: int, result: IngestResult) -> None:
            results.append(result)
            bar.progress(done / max(total, 1), text=f"{done} / {total}")
            st.text(f"{_status_icon(result)} {result.source}: {result.message}")

        try:
            work(progress)
        except IngestSetupError as exc:
            status.update(label=f"Stopped: {exc}", state="error")
            return results
        failed = sum(r.status == "failed" for r in results)
        status.update(
            label=f"Done: {sum(r.ok for r in results)} added, {failed} rejected, "
            f"{sum(r.status == 'skipped' for r in results)} already in the catalog",
            state="error" if failed else "complete",
            expanded=bool(failed),
        )
    return results


def _render_upload() -> None:
    settings = get_settings()
    nonce = st.session_state.get(_UPLOADER_NONCE, 0)
    files = st.file_uploader(
        f"Audio files (up to {settings.max_upload_mb:g} MB and {settings.max_duration_s / 60:g} min each)",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=f"upload_{nonce}",
        # The browser refuses bigger files up front; ingest checks the exact limit again.
        max_upload_size=max(1, math.ceil(settings.max_upload_mb)),
    )
    if files and st.button(f"Tag and add {len(files)} file(s)", key="upload_go", type="primary"):

        def work(progress) -> None:
            for i, f in enumerate(files, 1):
                progress(i, len(files), ingest_bytes(f.getvalue(), f.name, settings=settings))

        results = _run_with_progress(f"Tagging {len(files)} file(s)…", work)
        st.session_state[_RESULTS] = curate_logic.result_rows(results)
        st.session_state[_UPLOADER_NONCE] = nonce + 1  # empty the uploader for the next batch
        st.rerun()
    table = st.session_state.get(_RESULTS)
    if table is not None:
        st.subheader("Results")
        st.dataframe(table, hide_index=True, key="upload_results")
        _csv_button(table, "upload-results.csv", "upload_results_csv")


def _csv_button(table, file_name: str, key: str) -> None:
    st.download_button("⬇️ CSV", table.to_csv(index=False).encode("utf-8"), file_name, "text/csv", key=key, on_click="ignore")


def _render_review() -> None:
    c1, c2, c3 = st.columns([3, 1, 1])
    query = c1.text_input("Search title, artist or album", key="review_query")
    quadrant = c2.selectbox(
        "Mood", [None, *QUADRANTS], format_func=lambda q: "all" if q is None else f"{q} {QUADRANT_NAMES[q]}",
        key="review_quadrant",
    )
    tagged_by = c3.selectbox("Tagged by", [None, "model", "curator"], format_func=lambda x: x or "anyone", key="review_tagged_by")
    original = curate_logic.find_tracks(query, quadrant, tagged_by)
    if original.empty:
        st.info("No tracks match." if query or quadrant or tagged_by else "The catalog is empty: upload some music.")
        return
    st.caption(
        f"{len(original)} track(s) shown (at most 200). Edit title, artist, album or mood; a mood you set "
        "is marked *curator* and re-tagging leaves it alone. Tick **delete** to remove a track and its file."
    )
    edited = st.data_editor(
        original,
        key="catalog_editor",
        hide_index=True,
        disabled=[c for c in original.columns if c not in curate_logic.EDITABLE_COLUMNS],
        column_config={
            "quadrant": st.column_config.SelectboxColumn("quadrant", options=list(QUADRANTS), required=True),
            "valence": st.column_config.NumberColumn("valence", min_value=-1.0, max_value=1.0, step=0.01),
            "arousal": st.column_config.NumberColumn("arousal", min_value=-1.0, max_value=1.0, step=0.01),
            "delete": st.column_config.CheckboxColumn("delete"),
            "duration_s": st.column_config.NumberColumn("duration (s)"),
        },
    )
    if st.button("💾 Save changes", key="review_save", type="primary"):
        outcome = curate_logic.apply_edits(original, edited)
        st.session_state["_mt_edit_outcome"] = outcome
        st.session_state.pop("catalog_editor", None)  # start from the saved catalog
        st.rerun()
    outcome = st.session_state.pop("_mt_edit_outcome", None)
    if outcome is not None:
        if outcome.updated or outcome.deleted:
            st.success(f"Saved: {len(outcome.updated)} updated, {len(outcome.deleted)} deleted.")
        for error in outcome.errors:
            st.error(error)
    _render_inline_player(original)


def _render_inline_player(tracks) -> None:
    options = list(tracks["id"])
    labels = dict(zip(tracks["id"], tracks["title"] + " — " + tracks["artist"]))
    track_id = st.selectbox("▶️ Play a track", options, format_func=labels.get, key="review_play")
    if track_id is None:
        return
    with session_scope() as s:
        track = repository.get_track(s, int(track_id))
        rel = track.media_path if track else None
    try:
        path = MediaStore().resolve(rel) if rel else None
    except MediaPathError:
        path = None
    if path is None or not path.is_file():
        st.warning("This track's audio file is missing from the media store.")
    else:
        st.audio(path.read_bytes(), format=mime_for(path))


def _render_retag() -> None:
    with session_scope() as s:
        n = len(repository.model_tagged_track_ids(s))
    st.write(f"{n} model-tagged track(s). Curator-tagged tracks are never changed.")
    if st.button(f"🔁 Re-tag {n} track(s) with the current model", key="retag_go", disabled=n == 0):
        results = _run_with_progress(f"Re-tagging {n} track(s)…", lambda progress: retag_catalog(progress=progress))
        st.session_state["_mt_retag_results"] = curate_logic.result_rows(results)
    table = st.session_state.get("_mt_retag_results")
    if table is not None:
        st.dataframe(table, hide_index=True, key="retag_results")


def _render_folder_import() -> None:
    settings = get_settings()
    if settings.import_root is None:
        st.info("Importing from a folder on the server is off. Set `MOODTUNE_IMPORT_ROOT` to the folder "
                "curators may import from (for big libraries; the CLI `python -m app import` does the same).")
        return
    st.caption(f"Folders inside the import root `{settings.import_root}` only.")
    relative = st.text_input("Folder (relative to the import root)", key="import_folder")
    if st.button("📂 Import folder", key="import_go"):
        try:
            folder = curate_logic.resolve_import_folder(settings.import_root, relative)
        except (PermissionError, FileNotFoundError) as exc:
            st.error(str(exc))
            return
        results = _run_with_progress(
            f"Importing {folder.name or folder}…",
            lambda progress: ingest_paths([folder], settings=settings, root=settings.import_root, progress=progress),
        )
        st.session_state["_mt_import_results"] = curate_logic.result_rows(results)
    table = st.session_state.get("_mt_import_results")
    if table is not None:
        st.dataframe(table, hide_index=True, key="import_results")
        _csv_button(table, "import-results.csv", "import_results_csv")


def render() -> None:
    st.title("🎚️ Curate")
    with session_scope() as s:
        counts = repository.counts_by_quadrant(s)
    cols = st.columns(5)
    cols[0].metric("Tracks", sum(counts.values()))
    for col, q in zip(cols[1:], QUADRANTS):
        col.metric(f"{q} {QUADRANT_NAMES[q]}", counts[q])
    upload, review, retag, folder = st.tabs(["⬆️ Upload", "📝 Review & edit", "🔁 Re-tag", "📂 Server folder"])
    with upload:
        _render_upload()
    with review:
        _render_review()
    with retag:
        _render_retag()
    with folder:
        _render_folder_import()
