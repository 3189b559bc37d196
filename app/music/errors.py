"""The music package's errors, in one module every other music module may import."""

from __future__ import annotations


class AudioError(ValueError):
    """The input is not decodable audio (message says why, for the user)."""


class ModelError(RuntimeError):
    """A model file is missing or unusable; the message says which and how to fix it."""


class EmbeddingModelError(ModelError):
    """The musicnn LiteRT model is missing or unusable (message says how to rebuild it)."""
