"""Streamlit widgets and page renderers, the only Streamlit code below ``app_pages/``.

Each page renders one service module's results: Mood → ``app.listening.service``, Curate →
``app.library.curation``, Analytics → ``app.analytics``. Anything that can run without a
Streamlit runtime belongs in those modules, not here. ``state_keys`` names every session-state
key the app keeps.
"""
