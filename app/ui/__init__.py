"""Streamlit widgets shared by the pages (the only Streamlit code below ``app_pages/``).

Modules whose names end in ``_logic`` hold the plain-Python parts so tests can use them without
a Streamlit runtime.
"""
