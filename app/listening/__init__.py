"""The listener's domain, importable without Streamlit: mood readings and where they come from
(`mood`), the session with what plays now, up next, history and liked (`session`), its snapshot
that survives a reload (`persistence`), the player's reports turned into listening events
(`playback`), the live camera's thread-safe hand-over (`live`), how the mood moved while a
track played and what that teaches the recommender (`response`), one browser tab's listening
and every action the Mood page takes on it (`tab`), what the page tells the listener: the
camera's status, the mood panel, up next's notices (`status`), and `service`, the one module
the Mood page calls for anything that touches the catalog (recommendations, listening and mood
events, saving and resuming the session, forgetting it, whether the catalog is empty, media
files)."""
