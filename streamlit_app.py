"""Moodtune: entry point (`streamlit run streamlit_app.py`).

Page config, navigation (Mood for listeners; Curate and Analytics for curators, behind the
admin password) and the shared sidebar. The pages themselves are thin views over ``app/``.

Everything runs inside ``main()``, behind ``if __name__ == "__main__"`` (Streamlit runs this
script as ``__main__``): the audio-analysis worker processes (multiprocessing, forkserver)
re-import the main module as ``__mp_main__``, and must get neither the page nor its imports.

``app`` is the server: ``streamlit run streamlit_app.py`` (here and on Streamlit Community Cloud)
finds this ``st.App`` in the file, imports the module as ``streamlit_app`` and serves this same
script through it, with the security headers Streamlit has no setting for
(``app.ui.server.SecurityHeaders``: ``nosniff``, framing by this site only), the upload limits it
has none for either (``app.ui.server.UploadLimits``), and the route the now-playing bar fetches
its audio from (``app.ui.server.audio_routes``: /audio/<track id>, valid as long as the track is).
"""

from __future__ import annotations


def main() -> None:
    import streamlit as st

    from app.ui.auth import is_admin, render_locked_page, render_logout_button, sync_cookie
    from app.ui.startup import ensure_database

    st.set_page_config(page_title="Moodtune", page_icon=":material/headphones:", layout="wide")

    mood_page = st.Page("app_pages/mood.py", title="Mood", icon=":material/headphones:", url_path="mood", default=True)
    curate_page = st.Page("app_pages/curate.py", title="Curate", icon=":material/tune:", url_path="curate")
    analytics_page = st.Page(
        "app_pages/analytics.py", title="Analytics", icon=":material/monitoring:", url_path="analytics"
    )
    admin_pages = {curate_page.url_path, analytics_page.url_path}

    current = st.navigation({"Listen": [mood_page], "Curators": [curate_page, analytics_page]})

    with st.sidebar:
        st.caption("Moodtune — music for the mood on your face.")
    render_logout_button()
    sync_cookie()  # the signed curator cookie that lets a reload stay logged in

    if not ensure_database():
        st.stop()

    # The gate sits here, before any admin page's code runs, so a direct URL (/curate), query
    # parameters or session-state values can't get past it; the pages check again themselves.
    if current.url_path in admin_pages and not is_admin():
        render_locked_page()
        st.stop()

    current.run()


if __name__ == "__main__":
    main()
elif __name__ != "__mp_main__":
    import streamlit as st
    from starlette.middleware import Middleware

    from app.process_memory import limit_malloc_arenas
    from app.ui.server import SecurityHeaders, UploadLimits, audio_routes

    limit_malloc_arenas()  # the server's, before its session and camera threads start

    app = st.App(__file__, routes=audio_routes(), middleware=[Middleware(SecurityHeaders), Middleware(UploadLimits)])
