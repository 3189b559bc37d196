"""musicnn LiteRT embedding: shape, determinism, short clips and a clear error for a missing model.

Audio is synthesized here; no files from the shared data folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.config import MODELS_DIR
from app.music import embedding
from app.music.embedding import EMBEDDING_DIM, TAGS, MusicnnEmbedder
from app.music.errors import EmbeddingModelError, ModelError
from app.tools.samples import mood_clip


def _music(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """The shared synthesized music (a Q1 clip: chords, melody, drums) at any rate."""
    return mood_clip("Q1", seed, seconds, sr)


@pytest.fixture(scope="module")
def embedder() -> MusicnnEmbedder:
    return MusicnnEmbedder.load()


def test_tags_match_model() -> None:
    assert len(TAGS) == 50 and {"happy", "sad", "chill", "Mellow", "party"} <= set(TAGS)
    assert EMBEDDING_DIM == 300


def test_embedding_shape_and_determinism(embedder: MusicnnEmbedder) -> None:
    y = _music(12.0, 22050)
    a = embedder.embed(y, 22050)
    b = embedder.embed(y.copy(), 22050)
    assert a.shape == (EMBEDDING_DIM,) and a.dtype == np.float32
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    tag_mean, tag_std = a[:50], a[50:100]
    assert np.all((tag_mean >= 0) & (tag_mean <= 1)) and np.all(tag_std >= 0)
    # Different audio gives a different embedding (the model is actually looking at the input).
    assert not np.allclose(
        a, embedder.embed(np.random.default_rng(1).standard_normal(12 * 22050).astype(np.float32) * 0.1, 22050)
    )


def test_loaded_once_per_process(embedder: MusicnnEmbedder) -> None:
    assert MusicnnEmbedder.load() is embedder


def test_short_clip_is_repeat_padded(embedder: MusicnnEmbedder) -> None:
    v = embedder.embed(_music(1.0, 16000), 16000)
    assert v.shape == (EMBEDDING_DIM,) and np.all(np.isfinite(v))
    np.testing.assert_array_equal(v[50:100], 0.0)  # one patch: no spread over patches


def test_long_clip_capped_at_ten_patches() -> None:
    spec = embedding.log_mel(_music(60.0, 16000))
    p = embedding.patches(spec)
    assert p.shape == (10, 187, 96)


def test_batched_invoke_matches_single_patches(embedder: MusicnnEmbedder) -> None:
    batch = embedding.patches(embedding.log_mel(_music(9.0, 16000)))
    together = embedder.run_patches(batch)["taggram"]
    alone = np.concatenate([embedder.run_patches(batch[i : i + 1])["taggram"] for i in range(len(batch))])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_empty_audio_rejected(embedder: MusicnnEmbedder) -> None:
    with pytest.raises(ValueError):
        embedder.embed(np.zeros(0, dtype=np.float32), 16000)


def test_missing_model_gives_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError, match="not found.*convert_musicnn"):
        MusicnnEmbedder(tmp_path / "nope.tflite")
    assert issubclass(EmbeddingModelError, ModelError) and issubclass(EmbeddingModelError, RuntimeError)


def test_corrupt_model_gives_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "musicnn_msd.tflite"
    bad.write_bytes(b"not a flatbuffer" * 64)
    with pytest.raises(EmbeddingModelError, match="not a usable LiteRT model.*convert_musicnn"):
        MusicnnEmbedder(bad)


@pytest.mark.parametrize("net", sorted(embedding.XNNPACK_NETS))
def test_nets_on_xnnpack_read_a_song_as_the_builtin_kernels_do(net: str) -> None:
    # The vgg nets run on XNNPACK to tag a song in budget; their outputs (and so the tags the
    # model was trained on) must be the builtin kernels' to within float rounding.
    batch = embedding.patch_batch(mood_clip("Q2", seconds=9.0, sr=embedding.SR), embedding.SR)
    fast = MusicnnEmbedder.for_net(net).outputs(batch)
    builtin = MusicnnEmbedder(MODELS_DIR / embedding.NET_FILES[net], xnnpack=False).outputs(batch)
    np.testing.assert_allclose(fast, builtin, atol=1e-3)
