"""Curator page: upload & tag, review & override, re-tag, import from a server folder.
Only reached through app.ui.auth.require_admin(); everything it shows or changes goes through
app.library.curation."""

from __future__ import annotations

import math

import streamlit as st

from app.config import get_settings
from app.emotions import QUADRANT_NAMES, QUADRANTS
from app.escaping import csv_bytes
from app.library import curation
from app.library.curation import IngestResult
from app.library.formats import UPLOAD_EXTENSIONS, mime_type
from app.ui import state_keys as keys


def _status_icon(result: IngestResult) -> str:
    # ok covers a retag's "retagged"/"unchanged" as well as "imported"
    return "↩️" if result.status == "skipped" else "✅" if result.ok else "❌"


def _ingest_done(results: list) -> str:
    failed = sum(r.status == "failed" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    return f"Done: {sum(r.ok for r in results)} added, {failed} rejected, {skipped} already in the catalog"


def _retag_done(results: list) -> str:
    retagged, unchanged = (sum(r.status == s for r in results) for s in ("retagged", "unchanged"))
    return f"Done: {retagged} re-tagged, {unchanged} unchanged, {sum(r.status == 'failed' for r in results)} failed"


def _run_with_progress(label: str, work, done=_ingest_done) -> list[IngestResult]:
    """Run ``work(progress)`` inside st.status with a progress bar and one line per file;
    ``done(results)`` words the outcome."""
    results: list[IngestResult] = []
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0)

        def progress(done: int, total: int, result: IngestResult) -> None:
            results.append(result)
            bar.progress(done / max(total, 1), text=f"{done} / {total}")
            st.text(f"{_status_icon(result)} {result.source}: {result.message}")

        try:
            work(progress)
        except curation.IngestSetupError as exc:
            status.update(label=f"Stopped: {exc}", state="error")
            return results
        failed = sum(r.status == "failed" for r in results)
        status.update(
            label=done(results),
            state="error" if failed else "complete",
            expanded=bool(failed),
        )
    return results


def _render_upload() -> None:
    settings = get_settings()
    nonce = st.session_state.get(keys.UPLOADER_NONCE, 0)
    files = st.file_uploader(
        f"Audio files (up to {settings.max_upload_mb:g} MB and {settings.max_duration_s / 60:g} min each)",
        type=list(UPLOAD_EXTENSIONS),
        accept_multiple_files=True,
        key=f"upload_{nonce}",
        # The browser refuses bigger files up front; ingest checks the exact limit again.
        max_upload_size=max(1, math.ceil(settings.max_upload_mb)),
    )
    if files and st.button(f"Tag and add {len(files)} file(s)", key="upload_go", type="primary"):
        results = _run_with_progress(
            f"Tagging {len(files)} file(s)…", lambda progress: curation.add_uploads(files, progress, settings)
        )
        st.session_state[keys.UPLOAD_RESULTS] = curation.result_rows(results)
        st.session_state[keys.UPLOADER_NONCE] = nonce + 1  # empty the uploader for the next batch
        st.rerun()
    table = st.session_state.get(keys.UPLOAD_RESULTS)
    if table is not None:
        st.subheader("Results")
        st.dataframe(table, hide_index=True, key="upload_results")
        _csv_button(table, "upload-results.csv", "upload_results_csv")


def _csv_button(table, file_name: str, key: str) -> None:
    st.download_button("⬇️ CSV", csv_bytes(table), file_name, "text/csv", key=key, on_click="ignore")


def _render_review() -> None:
    c1, c2, c3 = st.columns([3, 1, 1])
    query = c1.text_input("Search title, artist or album", key="review_query")
    quadrant = c2.selectbox(
        "Mood",
        [None, *QUADRANTS],
        format_func=lambda q: "all" if q is None else f"{q} {QUADRANT_NAMES[q]}",
        key="review_quadrant",
    )
    tagged_by = c3.selectbox(
        "Tagged by", [None, *curation.TAGGED_BY], format_func=lambda x: x or "anyone", key="review_tagged_by"
    )
    original = curation.find_tracks(query, quadrant, tagged_by)
    if original.empty:
        st.info("No tracks match." if query or quadrant or tagged_by else "The catalog is empty: upload some music.")
        return
    st.caption(
        f"{len(original)} track(s) shown (at most {curation.PAGE_SIZE}). Edit title, artist, album or mood; "
        "a mood you set is marked *curator* and re-tagging leaves it alone. Tick **delete** to remove a track "
        "and its file."
    )
    edited = st.data_editor(
        original,
        key="catalog_editor",
        hide_index=True,
        disabled=[c for c in original.columns if c not in curation.EDITABLE_COLUMNS],
        column_config={
            "quadrant": st.column_config.SelectboxColumn("quadrant", options=list(QUADRANTS), required=True),
            "valence": st.column_config.NumberColumn("valence", min_value=-1.0, max_value=1.0, step=0.01),
            "arousal": st.column_config.NumberColumn("arousal", min_value=-1.0, max_value=1.0, step=0.01),
            "delete": st.column_config.CheckboxColumn("delete"),
            "duration_s": st.column_config.NumberColumn("duration (s)"),
        },
    )
    if st.button("💾 Save changes", key="review_save", type="primary"):
        outcome = curation.apply_edits(original, edited)
        st.session_state[keys.EDIT_OUTCOME] = outcome
        st.session_state.pop("catalog_editor", None)  # start from the saved catalog
        st.rerun()
    outcome = st.session_state.pop(keys.EDIT_OUTCOME, None)
    if outcome is not None:
        if outcome.updated or outcome.deleted:
            st.success(f"Saved: {len(outcome.updated)} updated, {len(outcome.deleted)} deleted.")
        for error in outcome.errors:
            st.error(error)
    _render_inline_player(original)


def _render_inline_player(tracks) -> None:
    options = list(tracks["id"])
    labels = dict(zip(tracks["id"], tracks["title"] + " — " + tracks["artist"], strict=True))
    track_id = st.selectbox("▶️ Play a track", options, format_func=labels.get, key="review_play")
    if track_id is None:
        return
    path = curation.track_audio(int(track_id))
    if path is None:
        st.warning("This track's audio file is missing from the media store.")
    else:
        st.audio(path.read_bytes(), format=mime_type(path))


def _render_retag() -> None:
    n = curation.model_tagged_count()
    st.write(f"{n} model-tagged track(s). Curator-tagged tracks are never changed.")
    if st.button(f"🔁 Re-tag {n} track(s) with the current model", key="retag_go", disabled=n == 0):
        results = _run_with_progress(f"Re-tagging {n} track(s)…", curation.retag, _retag_done)
        st.session_state[keys.RETAG_RESULTS] = curation.result_rows(results)
    table = st.session_state.get(keys.RETAG_RESULTS)
    if table is not None:
        st.dataframe(table, hide_index=True, key="retag_results")


def _render_folder_import() -> None:
    settings = get_settings()
    if settings.import_root is None:
        st.info(
            "Importing from a folder on the server is off. Set `MOODTUNE_IMPORT_ROOT` to the folder "
            "curators may import from (for big libraries; the CLI `python -m app import` does the same)."
        )
        return
    st.caption(f"Folders inside the import root `{settings.import_root}` only.")
    relative = st.text_input("Folder (relative to the import root)", key="import_folder")
    if st.button("📂 Import folder", key="import_go"):
        try:
            folder = curation.resolve_import_folder(settings.import_root, relative)
        except (PermissionError, FileNotFoundError) as exc:
            st.error(str(exc))
            return
        results = _run_with_progress(
            f"Importing {folder.name or folder}…",
            lambda progress: curation.import_folder(folder, progress, settings),
        )
        st.session_state[keys.IMPORT_RESULTS] = curation.result_rows(results)
    table = st.session_state.get(keys.IMPORT_RESULTS)
    if table is not None:
        st.dataframe(table, hide_index=True, key="import_results")
        _csv_button(table, "import-results.csv", "import_results_csv")


def render() -> None:
    st.title("🎚️ Curate")
    counts = curation.quadrant_counts()
    cols = st.columns(5)
    cols[0].metric("Tracks", sum(counts.values()))
    for col, q in zip(cols[1:], QUADRANTS, strict=True):
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
