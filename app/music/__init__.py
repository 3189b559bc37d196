"""Music: decoding, features, the mood model and its training."""

from app.music.errors import AudioError, EmbeddingModelError, ModelError
from app.music.tagger import MoodTag, MoodTagger

__all__ = ["AudioError", "EmbeddingModelError", "ModelError", "MoodTag", "MoodTagger"]
