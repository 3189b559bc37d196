"""Every ``st.session_state`` key the app itself keeps, under one prefix so no page widget can
collide with them by accident. Widget keys a listener's or curator's input lives under
(``strategy``, ``mood_pad_label``, ``catalog_editor`` …) are named at their widget: they are the
widget's identity, which the tests and the browser checks address."""

PREFIX = "_mt_"

# Mood page
LISTENING_TAB = PREFIX + "listening_tab"  # the ListeningTab: the listener's session and what the page keeps
LIVE_CALLBACK = PREFIX + "live_callback"  # the frame callback, built once per browser session

# Start-up
DB_RETRY = PREFIX + "db_retry"  # the Retry button when the database is unreachable
CATALOG_REACHED = PREFIX + "catalog_reached"  # this session has used the catalog: an outage degrades, not blocks

# Admin gate
ADMIN_TOKEN = PREFIX + "admin_token"
ADMIN_PASSWORD_INPUT = PREFIX + "admin_password_input"
LOGIN_FAILED = PREFIX + "login_failed"  # the message the last refused login left
LOGIN_SESSION_ID = PREFIX + "login_session_id"  # this browser session's key in the login throttle
CURATOR_COOKIE = PREFIX + "curator_cookie"  # the signed cookie this session keeps in the browser
CURATOR_COOKIE_CLEAR = PREFIX + "curator_cookie_clear"  # drop the browser's cookie on the next run
LOGOUT = PREFIX + "logout"
SIGN_IN = PREFIX + "sign_in"  # widget keys of the OpenID Connect sign-in (app.ui.sign_in)
SIGN_OUT = PREFIX + "sign_out"
SIGN_IN_SIDEBAR = PREFIX + "sign_in_sidebar"
SIGN_OUT_LOCKED = PREFIX + "sign_out_locked"

# Curate page
UPLOAD_RESULTS = PREFIX + "upload_results"
UPLOADER_NONCE = PREFIX + "uploader_nonce"
EDIT_OUTCOME = PREFIX + "edit_outcome"
RETAG_RESULTS = PREFIX + "retag_results"
IMPORT_RESULTS = PREFIX + "import_results"
UPLOAD_SUMMARY = PREFIX + "upload_summary"  # the last upload's "3 added, 2 failed…" line
IMPORT_SUMMARY = PREFIX + "import_summary"
EDIT_PENDING = PREFIX + "edit_pending"  # (original, edited) waiting for the delete confirmation
EDIT_UNDO = PREFIX + "edit_undo"  # the last save's EditOutcome, whose backups undo restores
UNDO_DONE = PREFIX + "undo_done"  # what the last undo said, shown once
