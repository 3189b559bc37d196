"""The listener's domain, importable without Streamlit: mood readings and where they come from
(`mood`), the session with its queue (`session`), the live camera's thread-safe hand-over
(`live`) and `service`, the one module the Mood page calls for anything that touches the
catalog (recommendations, listening and mood events, forgetting a session, media files)."""
