"""Escaping text the catalog holds (titles, artists, albums, file names: whatever a file's tags or
an uploader said) for the places that would otherwise read it as code: spreadsheets opening a
CSV export, and Plotly rendering hover text and labels.

- CSV (OWASP "CSV injection"): a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return is a formula to Excel, LibreOffice and Google Sheets (``=HYPERLINK(…)``); a
  leading single quote makes it text. Only text cells are touched: numbers stay numbers.
- Plotly renders a subset of HTML (``<b>``, ``<i>``, ``<br>``, ``<a href>``) in hover text, labels
  and titles; HTML-escaping shows the text as typed (Plotly turns the entities back into the
  characters when it draws them).
- Streamlit renders Markdown (and its own ``:color[…]`` / ``:material/…:`` directives) in
  ``st.markdown``, ``st.caption``, alerts, toasts and progress text: ``markdown_literal`` makes a
  title or artist show as typed there, no image fetched, no link made.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, prefixed with ``'``; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells (and column names) can't run as spreadsheet formulas."""
    safe = frame.copy()
    for column in safe.columns:
        if not (pd.api.types.is_numeric_dtype(safe[column]) or pd.api.types.is_bool_dtype(safe[column])):
            safe[column] = safe[column].map(neutralise_formula)
    safe.columns = [neutralise_formula(str(c)) for c in safe.columns]
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The CSV every export downloads: UTF-8, no index, formula-safe (`csv_safe`)."""
    return csv_safe(frame).to_csv(index=False).encode("utf-8")


def plot_text(value: object) -> object:
    """Text for a Plotly hover, label or title, HTML-escaped; anything else as is."""
    return html.escape(value, quote=False) if isinstance(value, str) else value


def plot_safe(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of `frame` with the text of `columns` (default: every text column) HTML-escaped for
    Plotly, which shows hover data and category labels from the frame's cells."""
    safe = frame.copy()
    for column in safe.columns if columns is None else columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(plot_text)
    return safe


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&\"'])")
# GFM turns bare URLs and e-mail addresses into links after escapes are undone (remark-gfm finds
# them in the text), so a word joiner (U+2060, invisible, no line break) goes where its patterns
# need two characters side by side: "http(s):" and "//", "www" and ".", before "@".
_AUTOLINK_SEAMS = re.compile(r"(?i)(?<=:)(?=//)|(?<=\bwww)(?=\\?\.)|(?=@)")
WORD_JOINER = "\u2060"


def markdown_literal(text: object) -> str:
    """Text from the catalog (a title, an artist, a file name) for Streamlit's Markdown: every
    Markdown/HTML character backslash-escaped and autolink patterns broken, so it shows as typed."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    return _AUTOLINK_SEAMS.sub(WORD_JOINER, escaped)
