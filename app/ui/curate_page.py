"""Curator page: upload & tag, review & override, re-tag, import from a server folder.
Only reached through app.ui.auth.require_admin(); everything it shows or changes goes through
app.library.curation."""

from __future__ import annotations

import logging
import math
from urllib.parse import urljoin, urlsplit

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from sqlalchemy.engine import make_url
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.typing import UploadedFile

from app.config import get_settings
from app.emotions import QUADRANT_COLOURS, QUADRANT_NAMES, QUADRANTS
from app.escaping import csv_bytes, markdown_literal
from app.library import curation
from app.library.curation import IngestResult
from app.library.formats import UPLOAD_EXTENSIONS, mime_type
from app.ui import state_keys as keys
from app.ui.analytics_page import PLOT_CONFIG
from app.ui.now_playing import audio_url

log = logging.getLogger(__name__)


# Words, not emoji: st.text draws no icon font, and emoji need a colour font a curator's
# machine may lack (they drew as empty boxes).
STATUS_WORDS = {
    "imported": "added",
    "retagged": "re-tagged",
    "unchanged": "unchanged",
    "skipped": "already there",
    "failed": "FAILED",
}


def _status_word(result: IngestResult) -> str:
    return STATUS_WORDS.get(result.status, result.status)


def _ingest_done(results: list) -> str:
    failed = sum(r.status == "failed" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    return f"{sum(r.ok for r in results)} added, {failed} failed, {skipped} already there"


def _retag_done(results: list) -> str:
    retagged, unchanged = (sum(r.status == s for r in results) for s in ("retagged", "unchanged"))
    return f"{retagged} re-tagged, {unchanged} unchanged, {sum(r.status == 'failed' for r in results)} failed"


def _outage_text() -> str:
    """Curators may see the database host (never the URL or the user)."""
    host = make_url(get_settings().database_url).host
    return "The catalog database is unreachable right now" + (f" (host {host})" if host else "") + "; retry shortly."


def _run_with_progress(label: str, work, done=_ingest_done) -> tuple[list[IngestResult], str]:
    """Run ``work(progress)`` inside st.status with a live bar ("3/10 file.mp3") and one line per
    file; returns the results so far and the summary line (``done(results)``, or why it stopped)."""
    results: list[IngestResult] = []
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0, text="starting…")

        def progress(n: int, total: int, result: IngestResult) -> None:
            results.append(result)
            bar.progress(n / max(total, 1), text=f"{n}/{total} {markdown_literal(result.source)}")
            st.text(f"{_status_word(result)} · {result.source}: {result.message}")

        try:
            work(progress)
        except (curation.IngestSetupError, curation.ImportStopped) as exc:
            summary = f"Stopped: {exc}. So far: {done(results)}"
            status.update(label=summary, state="error")
            return results, summary
        summary = done(results)
        failed = sum(r.status == "failed" for r in results)
        status.update(label=f"Done: {summary}", state="error" if failed else "complete", expanded=False)
    return results, summary


def _blank(table: pd.DataFrame) -> pd.DataFrame:
    """Empty cells shown empty, not as "None"."""
    return table.astype(object).where(table.notna(), "")


def _render_results(table: pd.DataFrame, summary: str | None, key: str, csv_name: str | None = None) -> None:
    """A results table with its summary, and every failure again as wrapped text below it."""
    if summary:
        (st.warning if summary.startswith("Stopped") else st.success)(summary)
    shown = table.assign(quadrant=table["quadrant"].map(QUADRANT_NAMES).fillna(table["quadrant"]))
    st.dataframe(
        _blank(shown),
        hide_index=True,
        key=key,
        column_order=["file", "status", "title", "artist", "quadrant", "message"]
        + [c for c in table.columns if c not in ("file", "status", "title", "artist", "quadrant", "message")],
        column_config={"message": st.column_config.TextColumn("message", width="large")},
    )
    failed = table[table["status"] == "failed"]
    if len(failed):
        with st.container(key=f"{key}_failures"):
            st.markdown("**Failed:**")
            for source, message in zip(failed["file"], failed["message"], strict=True):
                st.text(f"{source}: {message}")  # plain text that wraps; names are never markup
    if csv_name:
        _csv_button(table, csv_name, f"{key}_csv")


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
        results, summary = _run_with_progress(
            f"Tagging {len(files)} file(s)…",
            lambda progress: curation.add_uploads(files, progress, settings, release=_release_upload),
        )
        del files  # the widget's file objects; their bytes went with _release_upload
        st.session_state[keys.UPLOAD_RESULTS] = curation.result_rows(results)
        st.session_state[keys.UPLOAD_SUMMARY] = summary
        st.session_state[keys.UPLOADER_NONCE] = nonce + 1  # empty the uploader for the next batch
        st.rerun()
    table = st.session_state.get(keys.UPLOAD_RESULTS)
    if table is not None:
        st.subheader("Results")
        _render_results(table, st.session_state.get(keys.UPLOAD_SUMMARY), "upload_results", "upload-results.csv")


def _release_upload(upload: UploadedFile) -> None:
    """Drop an upload's bytes once ingest has them on disk. Streamlit keeps every uploaded file in
    memory until the widget deletes it or the session ends, and a new uploader key (how the form
    empties) deletes nothing; it has no public call for this, hence its upload manager."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        ctx.uploaded_file_mgr.remove_file(ctx.session_id, upload.file_id)
    upload.close()


def _csv_button(table, file_name: str, key: str) -> None:
    st.download_button(
        "CSV", csv_bytes(table), file_name, "text/csv", icon=":material/download:", key=key, on_click="ignore"
    )


# Key columns first, so a phone (390 px) shows delete, title and mood without scrolling sideways;
# the artist comes next.
REVIEW_COLUMNS = [
    "delete",
    "title",
    "quadrant",
    "artist",
    "certainty",
    "hint",
    "tagged",
    "album",
    "valence",
    "arousal",
    "duration_s",
]


def _save(original: pd.DataFrame, edited: pd.DataFrame) -> None:
    previous = st.session_state.pop(keys.EDIT_UNDO, None)
    if previous is not None:
        curation.discard_undo(previous)  # a new save closes the last one's undo
    try:
        outcome = curation.apply_edits(original, edited)
    except curation.OUTAGE_ERRORS:
        log.warning("saving curator edits failed: database unavailable", exc_info=True)
        outcome = curation.EditOutcome(errors=[_outage_text()])
    st.session_state[keys.EDIT_OUTCOME] = outcome
    if outcome.backups:
        st.session_state[keys.EDIT_UNDO] = outcome
    st.session_state.pop("catalog_editor", None)  # start from the saved catalog


def _on_undo() -> None:
    outcome = st.session_state.pop(keys.EDIT_UNDO, None)
    if outcome is None:
        return
    problems = curation.undo(outcome)
    st.session_state[keys.UNDO_DONE] = problems
    st.session_state.pop("catalog_editor", None)


def _render_save_feedback() -> None:
    outcome = st.session_state.pop(keys.EDIT_OUTCOME, None)
    if outcome is not None:
        if outcome.updated or outcome.deleted:
            names = ", ".join(f"“{markdown_literal(t)}”" for t in list(outcome.titles.values())[:3])
            text = f"Saved: {len(outcome.updated)} updated, {len(outcome.deleted)} deleted ({names})."
            st.success(text)
            st.toast(text, icon=":material/check_circle:")
        for error in outcome.errors:
            st.error(markdown_literal(error))  # messages name tracks: shown as typed
    undo_done = st.session_state.pop(keys.UNDO_DONE, None)
    if undo_done is not None:
        for problem in undo_done:
            st.error(markdown_literal(problem))
        if not undo_done:
            st.success("Undone: the tracks are back as they were.")
            st.toast("Undone", icon=":material/undo:")
    pending = st.session_state.get(keys.EDIT_UNDO)
    if pending is not None:
        st.button(
            f"Undo the last save ({len(pending.updated)} updated, {len(pending.deleted)} deleted)",
            key="review_undo",
            on_click=_on_undo,
            help="Puts every changed or deleted track back (a deleted one with its audio file). "
            "Available until the next save or until the app restarts.",
        )


def _render_delete_confirmation() -> bool:
    """The pending save with deletes, asking first; True while it waits."""
    pending = st.session_state.get(keys.EDIT_PENDING)
    if pending is None:
        return False
    original, edited = pending
    doomed = edited[edited["delete"].astype(bool)]
    with st.container(border=True, key="delete_confirmation"):
        st.warning(
            f"Delete {len(doomed)} track(s) and their audio files? "
            # Title, artist and id: two tracks may share a title.
            + ", ".join(
                f"“{markdown_literal(title)}” by {markdown_literal(artist)} (#{track_id})"
                for title, artist, track_id in doomed[["title", "artist", "id"]].head(5).itertuples(index=False)
            )
            + (" …" if len(doomed) > 5 else "")
            + " You can undo right after."
        )
        yes, no = st.columns(2)
        if yes.button("Yes, delete", key="review_confirm_delete", type="primary", icon=":material/delete:"):
            st.session_state.pop(keys.EDIT_PENDING, None)
            _save(original, edited)
            st.rerun()
        if no.button("Cancel", key="review_cancel_delete"):
            st.session_state.pop(keys.EDIT_PENDING, None)
            st.session_state.pop("catalog_editor", None)
            st.rerun()
    return True


def _render_review() -> None:
    c1, c2, c3 = st.columns([3, 1, 1])
    query = c1.text_input("Search title, artist or album", key="review_query")
    review = st.checkbox(
        "Needs review",
        key="review_needs_review",
        help=f"Only the model's tags below {curation.REVIEW_BELOW:.0%} confidence, least sure first: "
        "where checking by ear helps most.",
    )
    quadrant = c2.selectbox(
        "Mood",
        [None, *QUADRANTS],
        format_func=lambda q: "all" if q is None else QUADRANT_NAMES[q],
        key="review_quadrant",
    )
    tagged_by = c3.selectbox(
        "Tagged by", [None, *curation.TAGGED_BY], format_func=lambda x: x or "anyone", key="review_tagged_by"
    )
    _render_save_feedback()
    try:
        original = curation.find_tracks(query, quadrant, tagged_by, needs_review=review)
    except curation.OUTAGE_ERRORS:
        log.warning("review table unavailable: database unavailable", exc_info=True)
        st.warning(_outage_text())
        return
    if original.empty:
        if review:
            st.info("No model tag needs review: the model is fairly sure of every track that matches.")
        elif query or quadrant or tagged_by:
            st.info("No tracks match.")
        else:
            st.info("The catalog is empty: upload some music.")
        return
    st.caption(
        f"{len(original)} track(s) shown (at most {curation.PAGE_SIZE}). Edit title, artist, album or mood; "
        "a mood you set is marked *curator* and re-tagging leaves it alone. Changing only the mood keeps the "
        "track's distance from each axis. Tick **delete** to remove a track and its file (asks first; undo after)."
    )
    if _render_delete_confirmation():
        return
    edited = st.data_editor(
        original,
        key="catalog_editor",
        hide_index=True,
        column_order=REVIEW_COLUMNS,
        disabled=[c for c in original.columns if c not in curation.EDITABLE_COLUMNS],
        column_config={
            "delete": st.column_config.CheckboxColumn("Delete", help="Delete the track and its file", width="small"),
            "title": st.column_config.TextColumn("title", width="small"),
            "quadrant": st.column_config.SelectboxColumn(
                "mood",
                options=list(QUADRANTS),
                format_func=QUADRANT_NAMES.get,  # words; the stored value stays the quadrant
                required=True,
                width="medium",
            ),
            "hint": st.column_config.TextColumn("hint", help="The file had no tags: its title is the file name"),
            "tagged": st.column_config.TextColumn("tagged by"),
            "certainty": st.column_config.TextColumn(
                "confidence", help="How sure the model is of its tag (empty: a curator set it)"
            ),
            "valence": st.column_config.NumberColumn("valence", min_value=-1.0, max_value=1.0, step=0.01),
            "arousal": st.column_config.NumberColumn("arousal", min_value=-1.0, max_value=1.0, step=0.01),
            "duration_s": st.column_config.NumberColumn("duration (s)"),
        },
    )
    untagged = int((original["hint"] != "").sum())
    if untagged:
        st.caption(
            f":material/edit: {untagged} track(s) have no tags (title from the file name, artist unknown): "
            "fix them above."
        )
    if st.button("Save changes", icon=":material/save:", key="review_save", type="primary"):
        if edited["delete"].astype(bool).any():
            st.session_state[keys.EDIT_PENDING] = (original, edited)
        else:
            _save(original, edited)
        st.rerun()
    _render_inline_player(original)


def _render_inline_player(tracks) -> None:
    options = list(tracks["id"])
    labels = dict(zip(tracks["id"], tracks["title"] + " — " + tracks["artist"], strict=True))
    track_id = st.selectbox(":material/play_arrow: Play a track", options, format_func=labels.get, key="review_play")
    if track_id is None:
        return
    try:
        path = curation.track_audio(int(track_id))
    except curation.OUTAGE_ERRORS:
        st.warning(_outage_text())
        return
    page = st.context.url  # None until the browser has sent its address (and in AppTest)
    if path is None:
        st.warning("This track's audio file is missing from the media store.")
    elif page is not None:
        # From the app's /audio route, as the bar plays: st.audio of a file reads it whole into
        # the server's memory and keeps it there (a curator's fresh 40 MB upload, through an
        # import with listeners' cameras on); the route streams it by ranges from the store.
        fmt = mime_type(urlsplit(path).path) if isinstance(path, str) else mime_type(path)
        st.audio(urljoin(page, audio_url(int(track_id))), format=fmt)
    _render_timeline(int(track_id), tracks[tracks["id"] == track_id].iloc[0])


# Light on the app's dark theme, apart from the quadrant shading; arousal also dashed.
LINE_COLOURS = {"valence": "#48cae4", "arousal": "#e0aaff"}


def _clock(seconds: pd.Series) -> pd.Series:
    """Seconds as timestamps from zero, so a date axis can label them m:ss."""
    return pd.to_datetime(seconds, unit="s")


def timeline_figure(timeline: pd.DataFrame) -> go.Figure:
    """Valence and arousal over the track (one point per segment, at its middle) on [-1, 1] with
    the zero line; the background of each stretch shaded by its quadrant and labelled once."""
    frame = timeline.assign(time=_clock((timeline["start_s"] + timeline["end_s"]) / 2))
    fig = px.line(
        frame, x="time", y=["valence", "arousal"], markers=True, color_discrete_map=LINE_COLOURS, range_y=[-1.1, 1.1]
    )
    fig.update_traces(hovertemplate="%{fullData.name} %{y:+.2f}<extra></extra>")
    fig.update_traces(line_dash="dash", selector={"name": "arousal"})
    # One shaded band per run of segments in the same quadrant (not one per segment).
    runs: list[list] = []
    for start, end, quadrant in zip(timeline["start_s"], timeline["end_s"], timeline["quadrant"], strict=True):
        if runs and runs[-1][2] == quadrant:
            runs[-1][1] = end
        else:
            runs.append([start, end, quadrant])
    total = float(timeline["end_s"].iloc[-1] - timeline["start_s"].iloc[0]) or 1.0
    for start, end, quadrant in runs:
        x0, x1 = _clock(pd.Series([start, end]))
        colour = QUADRANT_COLOURS[quadrant]
        fig.add_vrect(x0=x0, x1=x1, fillcolor=colour, opacity=0.2, line_width=0, layer="below")
        share = (end - start) / total
        if share >= 0.12:  # a label only where it fits, with the mood's name where there is room
            text = f"{quadrant} {QUADRANT_NAMES[quadrant].split(' / ')[0]}" if share >= 0.25 else quadrant
            fig.add_annotation(
                x=x0 + (x1 - x0) / 2,
                y=1,
                yref="paper",
                yanchor="top",
                text=text,
                showarrow=False,
                font={"size": 11, "color": colour},
            )
    fig.add_hline(y=0, line={"color": "#999", "width": 1})
    fig.update_xaxes(title=None, tickformat="%-M:%S", hoverformat="%-M:%S")
    fig.update_yaxes(title=None, tickvals=[-1, 0, 1], zeroline=False)
    fig.update_layout(
        height=230,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "title": None},
        hovermode="x unified",
    )
    return fig


def _render_timeline(track_id: int, row: pd.Series) -> None:
    """The selected track's mood over time, as the model heard it."""
    try:
        timeline = curation.track_timeline(track_id)
    except curation.OUTAGE_ERRORS:
        st.warning(_outage_text())
        return
    sure = f" · the model is {row['certainty']}" if row["certainty"] else ""
    if timeline.empty:
        st.caption(
            f"No mood timeline for this track{sure}: it was tagged before timelines were kept"
            + ("; re-tag to add one." if row["tagged_by"] != "curator" else ".")
        )
        return
    st.caption(
        f"**Mood over time**{sure}. Valence (+1 pleasant) and arousal (+1 energetic) segment by segment, "
        "shaded by quadrant."
    )
    st.plotly_chart(timeline_figure(timeline), key="review_timeline", config=PLOT_CONFIG, width="stretch")


def _render_retag() -> None:
    try:
        n = curation.model_tagged_count()
    except curation.OUTAGE_ERRORS:
        st.warning(_outage_text())
        return
    st.write(f"{n} model-tagged track(s). Curator-tagged tracks are never changed.")
    if st.button(
        f"Re-tag {n} track(s) with the current model", key="retag_go", icon=":material/sync:", disabled=n == 0
    ):
        results, _ = _run_with_progress(f"Re-tagging {n} track(s)…", curation.retag, _retag_done)
        st.session_state[keys.RETAG_RESULTS] = curation.result_rows(results)
    table = st.session_state.get(keys.RETAG_RESULTS)
    if table is not None:
        _render_results(table, None, "retag_results")


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
    if st.button("Import folder", key="import_go", icon=":material/folder_open:"):
        try:
            folder = curation.resolve_import_folder(settings.import_root, relative)
        except (PermissionError, FileNotFoundError) as exc:
            st.error(str(exc))
            return
        results, summary = _run_with_progress(
            f"Importing {folder.name or folder}…",
            lambda progress: curation.import_folder(folder, progress, settings),
        )
        st.session_state[keys.IMPORT_RESULTS] = curation.result_rows(results)
        st.session_state[keys.IMPORT_SUMMARY] = summary
    table = st.session_state.get(keys.IMPORT_RESULTS)
    if table is not None:
        _render_results(table, st.session_state.get(keys.IMPORT_SUMMARY), "import_results", "import-results.csv")


def render() -> None:
    st.title(":material/tune: Curate")
    try:
        counts = curation.quadrant_counts()
    except curation.OUTAGE_ERRORS:
        log.warning("catalog counts unavailable: database unavailable", exc_info=True)
        st.warning(_outage_text())
    else:
        # One wrapping line, not five metrics: on a phone the counts stay off most of the first screen.
        parts = " · ".join(f"{QUADRANT_NAMES[q]} **{counts[q]}**" for q in QUADRANTS)
        st.markdown(f"**{sum(counts.values())} tracks** · {parts}")
    # Material icons rather than emoji: those need a colour-emoji font the curator's machine may lack.
    upload, review, retag, folder = st.tabs(
        [
            ":material/upload: Upload",
            ":material/edit_note: Review & edit",
            ":material/sync: Re-tag",
            ":material/folder_open: Server folder",
        ]
    )
    with upload:
        _render_upload()
    with review:
        _render_review()
    with retag:
        _render_retag()
    with folder:
        _render_folder_import()
