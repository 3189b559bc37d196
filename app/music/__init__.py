"""Music: decoding, features, the mood model and its training."""

from app.music.audio import AudioError
from app.music.tagger import ModelError, MoodTag, MoodTagger

__all__ = ["AudioError", "ModelError", "MoodTag", "MoodTagger"]
