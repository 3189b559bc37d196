"""Listener page: live mood → music. The view lives in app.ui.mood_page."""

from app.ui.mood_page import render

render()
