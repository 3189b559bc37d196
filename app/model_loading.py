"""Load-once for model objects: one instance per process, shared by every thread and session.

    class MoodTagger:
        @load_once
        def load(cls) -> MoodTagger:
            return cls.from_models_dir(MUSIC_MODEL_FILE)

`MoodTagger.load()` builds the object on the first call (other threads wait for it rather than
build a second copy) and returns the same one afterwards. Tests put a stand-in in its place
without touching private names:

    with MoodTagger.load.override(StubTagger()):
        ...                       # every MoodTagger.load() in this process returns the stub

and `MoodTagger.load.cache_clear()` forgets the loaded object so the next call loads again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_UNSET: Any = object()


class load_once(Generic[T]):  # lower case: used as a decorator, like functools.cached_property
    """Decorator for a class's zero-argument loader `def load(cls) -> T` (see the module doc).

    Accessed on the class (or an instance) it is this object itself: call it to get the model,
    `override(value)` to stand in for it, `cache_clear()` to load afresh."""

    def __init__(self, loader: Callable[[type], T]) -> None:
        self._loader = loader
        self._owner: type | None = None
        self._lock = threading.Lock()
        self._value: T = _UNSET
        self._override: T = _UNSET
        self.__doc__ = loader.__doc__
        self.__name__ = getattr(loader, "__name__", "load")

    def __set_name__(self, owner: type, name: str) -> None:
        self._owner = owner

    def __get__(self, obj: object, owner: type | None = None) -> load_once[T]:
        return self

    def __call__(self) -> T:
        with self._lock:
            if self._override is not _UNSET:
                return self._override
            if self._value is _UNSET:
                if self._owner is None:
                    raise TypeError("load_once decorates a method of a class")
                self._value = self._loader(self._owner)
            return self._value

    @contextlib.contextmanager
    def override(self, value: T) -> Iterator[T]:
        """Within the block, every call returns `value` (the loaded object, if any, is kept)."""
        with self._lock:
            previous, self._override = self._override, value
        try:
            yield value
        finally:
            with self._lock:
                self._override = previous

    def cache_clear(self) -> None:
        """Forget the loaded object; the next call loads it again."""
        with self._lock:
            self._value = _UNSET
