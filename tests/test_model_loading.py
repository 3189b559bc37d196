"""Load-once models (app.model_loading): one object per process, a stand-in for tests, a retry
after a failed load."""

from __future__ import annotations

import threading
import time

import pytest

from app.model_loading import load_once


def _model_class():
    class Model:
        loads = 0
        fail = False

        @load_once
        def load(cls):
            time.sleep(0.05)  # long enough for every thread to arrive while the first one loads
            cls.loads += 1
            if cls.fail:
                raise RuntimeError("model file missing")
            return cls()

    return Model


def test_concurrent_first_calls_load_one_model():
    model = _model_class()
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(model.load())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert model.loads == 1 and len(got) == 8 and all(g is got[0] for g in got)
    assert isinstance(got[0], model) and model.load() is got[0]


def test_a_stand_in_replaces_the_model_only_inside_the_block():
    model = _model_class()
    real = model.load()
    stub = object()
    with model.load.override(stub) as given:
        assert given is stub and model.load() is stub
    assert model.load() is real and model.loads == 1


def test_a_stand_in_means_the_model_is_never_loaded():
    model = _model_class()
    with model.load.override("stub"):
        assert model.load() == "stub"
    assert model.loads == 0


def test_a_failed_load_is_retried_and_cache_clear_loads_afresh():
    model = _model_class()
    model.fail = True
    with pytest.raises(RuntimeError, match="missing"):
        model.load()
    model.fail = False
    first = model.load()
    assert model.loads == 2
    model.load.cache_clear()
    assert model.load() is not first and model.loads == 3
