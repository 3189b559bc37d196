"""Helpers for the music tests: fixtures shaped like what training and the model file hold."""

from __future__ import annotations

import numpy as np

from app.music.embedding import VggLastBlock


def random_last_blocks(names: tuple[str, ...], seed: int = 0) -> dict[str, VggLastBlock]:
    """A last block per name, with random weights shaped like the wheel's vgg nets' block 5
    ([11, 6, 128] in, 4x4 pooling, 256 flat, 50 tags)."""
    rng = np.random.default_rng(seed)
    return {
        name: VggLastBlock(
            kernel=rng.normal(0, 0.03, (3, 3, 128, 128)).astype(np.float32),
            bias=rng.normal(0, 0.1, 128).astype(np.float32),
            scale=rng.uniform(0.5, 1.5, 128).astype(np.float32),
            shift=rng.normal(0, 0.1, 128).astype(np.float32),
            pool=(4, 4),
            dense_kernel=rng.normal(0, 0.1, (256, 50)).astype(np.float32),
            dense_bias=np.zeros(50, np.float32),
        )
        for name in names
    }
