"""Catalog text that would run as code where it is shown: spreadsheet formulas in CSV exports
(Curate, Analytics) and HTML in Plotly hovers. Unit tests of app.escaping, and the pages'
exports and charts through AppTest."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from app.catalog import repository
from app.catalog.db import session_scope
from app.escaping import WORD_JOINER, csv_bytes, markdown_literal, neutralise_formula, plot_safe
from app.ui import state_keys
from tests.pages_support import APP_FILE, cleanup_engines, configure_env, install_stub_tagger, seed_catalog, wav_bytes

PASSWORD = "escaping-pass"
FORMULA = '=HYPERLINK("http://x","y")'
MARKUP = "<b>bold</b>"


@pytest.mark.parametrize("cell", [FORMULA, "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"])
def test_formula_cells_get_a_leading_quote(cell):
    assert neutralise_formula(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Song", "a=b", "", None, -0.5, 3, "'already quoted"])
def test_other_cells_are_left_alone(cell):
    assert neutralise_formula(cell) == cell


def test_csv_bytes_quotes_text_and_keeps_numbers():
    frame = pd.DataFrame({"title": [FORMULA, "Fine"], "valence": [-0.5, 0.25], "count": [-3, 2]})
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode("utf-8"))))
    assert rows == [["title", "valence", "count"], ["'" + FORMULA, "-0.5", "-3"], ["Fine", "0.25", "2"]]
    assert frame["title"][0] == FORMULA  # the page's own frame is not changed


def test_plot_safe_escapes_text_columns_only():
    frame = pd.DataFrame({"title": [MARKUP, "A & B"], "valence": [0.1, 0.2]})
    safe = plot_safe(frame)
    assert list(safe["title"]) == ["&lt;b&gt;bold&lt;/b&gt;", "A &amp; B"] and list(safe["valence"]) == [0.1, 0.2]
    assert frame["title"][0] == MARKUP


# ----------------------------------------------------------------------------- the pages


@pytest.fixture
def downloads(monkeypatch) -> list[bytes]:
    """The bytes of every CSV the pages hand to Streamlit's media file manager (download buttons)."""
    found: list[bytes] = []
    add = MediaFileManager.add

    def spy(self, path_or_data, mimetype, *args, **kwargs):
        if mimetype == "text/csv":
            found.append(path_or_data if isinstance(path_or_data, bytes) else path_or_data.encode("utf-8"))
        return add(self, path_or_data, mimetype, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", spy)
    return found


@pytest.fixture
def hostile_catalog(tmp_path: Path, monkeypatch):
    from app.ui.auth import LOGIN_THROTTLE

    LOGIN_THROTTLE.clear()
    _, media = configure_env(monkeypatch, tmp_path, password=PASSWORD)
    tracks = seed_catalog(media, tmp_path, per_quadrant=1)
    with session_scope() as s:
        repository.update_track(s, tracks[0].track_id, title=FORMULA, artist="@evil")
        repository.update_track(s, tracks[1].track_id, title=MARKUP, artist="<i>it</i><br>")
    with install_stub_tagger(monkeypatch):
        yield tmp_path
    cleanup_engines()


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    at.switch_page(page).run()
    at.text_input(key=state_keys.ADMIN_PASSWORD_INPUT).input(PASSWORD)
    at.get("form_submit_button")[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


def _cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8"))) for cell in row]


def test_analytics_exports_and_hovers_are_escaped(hostile_catalog, downloads):
    at = _open("app_pages/analytics.py")
    scatter = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith("chart_scatter"))
    hover = [str(v) for trace in scatter["data"] for row in trace["customdata"] for v in row]
    assert "&lt;b&gt;bold&lt;/b&gt;" in hover and "&lt;i&gt;it&lt;/i&gt;&lt;br&gt;" in hover
    assert not any("<b>" in v or "<br>" in v for v in hover)

    cells = [cell for data in downloads for cell in _cells(data)]
    assert "'" + FORMULA in cells and "'@evil" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert MARKUP in cells  # a CSV is not HTML: the title is exported as typed


def test_curate_upload_results_export_is_formula_safe(hostile_catalog, downloads):
    upload = "=SUM(1+1)*cmd"  # the title comes from the file name (no tags)
    at = _open("app_pages/curate.py")
    at.file_uploader(key="upload_0").set_value((upload + ".wav", wav_bytes(610, 1.0), "audio/wav")).run()
    at.button(key="upload_go").click().run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value.iloc[0]["title"] == upload  # shown as typed in the page's table
    [export] = [_cells(data) for data in downloads if upload in data.decode("utf-8")]
    assert "'" + upload + ".wav" in export and "'" + upload in export
    assert not any(cell.startswith("=") for cell in export)


# ----------------------------------------------------------------------------- Markdown

# The title and artist tags of the attack, and what else Markdown/GFM would act on.
HOSTILE_TAGS = [
    "![pix](http://127.0.0.1:9/pixel.png)",
    "http://evil.example/login",
    "see https://evil.example or www.evil.example",
    "mail me: victim@evil.example",
    "**loud** _quiet_ `code` <img src=x onerror=alert(1)> [link](javascript:alert(1))",
    ":red[alarm] :material/home: $x^2$ ~~gone~~ # Heading",
]
# GFM's autolink-literal patterns (mdast-util-gfm-autolink-literal), which find links in text
# after escapes are undone.
GFM_AUTOLINKS = re.compile(r"(https?://|www(?=\.))[-.\w]+|[-.+\w]+@[-\w]+(\.[-\w]+)+", re.IGNORECASE)


@pytest.mark.parametrize("tag", HOSTILE_TAGS)
def test_a_title_or_artist_shows_in_markdown_as_typed_with_no_image_link_or_style(tag):
    from markdown_it import MarkdownIt

    shown = markdown_literal(tag)
    rendered = MarkdownIt("commonmark").enable("strikethrough").render(shown)
    assert not re.search(r"<(img|a|em|strong|code|h1|s|del)\b", rendered), rendered
    text = html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()
    assert text.replace(WORD_JOINER, "") == tag  # the reader sees exactly the tag
    assert not GFM_AUTOLINKS.search(text), text  # no bare URL or address left for GFM to link
    assert not re.search(r"(?<!\\):(red\[|material/)", shown)  # Streamlit's directives inert too


def test_the_curate_delete_confirmation_and_saved_banner_show_a_markdown_title_as_text(tmp_path, monkeypatch):
    from app.catalog.db import init_db
    from app.catalog.models import Track

    configure_env(monkeypatch, tmp_path, password="pw-for-tests")
    media = tmp_path / "media"
    seed_catalog(media, tmp_path, per_quadrant=1)
    init_db()
    with session_scope() as s:
        s.query(Track).filter(Track.id == s.query(Track.id).order_by(Track.id).limit(1).scalar_subquery()).update(
            {"title": HOSTILE_TAGS[0]}, synchronize_session=False
        )
    try:
        at = AppTest.from_file(APP_FILE, default_timeout=60)
        at.run()
        at.switch_page("app_pages/curate.py").run()
        at.text_input(key=state_keys.ADMIN_PASSWORD_INPUT).input("pw-for-tests")
        at.get("form_submit_button")[0].click()
        at.run()
        rows = at.data_editor(key="catalog_editor").value
        row = int(rows.index[rows["title"] == HOSTILE_TAGS[0]][0])
        at.session_state["catalog_editor"] = {
            "edited_rows": {row: {"delete": True}},
            "added_rows": [],
            "deleted_rows": [],
        }
        at.run()
        at.button(key="review_save").click().run()
        [confirmation] = [w.value for w in at.warning if "Delete 1 track(s)" in w.value]
        at.button(key="review_confirm_delete").click().run()
        [banner] = [s.value for s in at.success if "1 deleted" in s.value]
        for shown in (confirmation, banner):
            assert markdown_literal(HOSTILE_TAGS[0]) in shown and HOSTILE_TAGS[0] not in shown
    finally:
        cleanup_engines()
