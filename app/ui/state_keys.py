"""Every ``st.session_state`` key the app itself keeps, under one prefix so no page widget can
collide with them by accident. Widget keys a listener's or curator's input lives under
(``strategy``, ``mood_pad_label``, ``catalog_editor`` …) are named at their widget: they are the
widget's identity, which the tests and the browser checks address."""

PREFIX = "_mt_"

# Mood page
LISTENER = PREFIX + "listener"  # the ListenerSession
LIVE_HOLDER = PREFIX + "live_holder"  # the MoodHolder the video thread writes into
LIVE_CALLBACK = PREFIX + "live_callback"  # the frame callback, built once per browser session
MOOD_THROTTLE = PREFIX + "mood_throttle"
AUTOPLAY = PREFIX + "autoplay"  # set by Next, consumed by the next render
LAST_IMAGE = PREFIX + "last_image_id"  # the snapshot/photo already analysed
FORGET_ERROR = PREFIX + "forget_error"
FORGOT = PREFIX + "forgot"  # how many events "Forget this session" deleted

# Start-up
DB_RETRY = PREFIX + "db_retry"  # the Retry button when the database is unreachable

# Admin gate
ADMIN_TOKEN = PREFIX + "admin_token"
ADMIN_PASSWORD_INPUT = PREFIX + "admin_password_input"
LOGIN_FAILED = PREFIX + "login_failed"
LOGOUT = PREFIX + "logout"

# Curate page
UPLOAD_RESULTS = PREFIX + "upload_results"
UPLOADER_NONCE = PREFIX + "uploader_nonce"
EDIT_OUTCOME = PREFIX + "edit_outcome"
RETAG_RESULTS = PREFIX + "retag_results"
IMPORT_RESULTS = PREFIX + "import_results"
