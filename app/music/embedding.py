"""Pretrained music-tagging embedding (musicnn, MSD top-50 tags) served with LiteRT, no TensorFlow.

The model is `models/musicnn_msd.tflite`, converted from the MSD_musicnn checkpoint of the
`musicnn` wheel (Pons & Serra 2019, ISC licence, see models/MUSICNN_LICENSE.txt) by
`python -m app.music.convert_musicnn --wheel PATH`.

`MusicnnEmbedder.load().embed(y, sr)` returns a 300-d float32 vector:
    [ mean over patches of the 50 tag probabilities,
      std  over patches of the 50 tag probabilities,
      mean over patches of the 200-d penultimate layer ]
Tag order is `TAGS`.

The cost grows with the number of 3 s patches the net runs on, so a long clip is capped at
`max_patches` patches spread over it; the log-mel (NumPy, `app.music.dsp`) and the resampling
cost little beside it. `python -m app bench` measures it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.config import MODELS_DIR, MUSICNN_MODEL_FILE
from app.model_loading import load_once
from app.music import dsp
from app.music.audio import resample, to_mono
from app.music.errors import EmbeddingModelError

REBUILD = "`python -m app.music.convert_musicnn --wheel musicnn-0.1.0-py3-none-any.whl`"

# musicnn's signal-processing setup (musicnn/configuration.py); the model was trained on exactly this.
SR = 16000
FFT_HOP = 256
FFT_SIZE = 512
N_MELS = 96
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
MAX_PATCHES = 10

# The four nets of the musicnn wheel (Pons & Serra 2019): MSD (Million Song Dataset, 50 tags)
# or MTT (MagnaTagATune, 50 other tags) × the musicnn or the vgg architecture, and their files.
NET_FILES: dict[str, str] = {
    "MSD_musicnn": MUSICNN_MODEL_FILE,
    "MTT_musicnn": "musicnn_mtt.tflite",
    "MSD_vgg": "musicnn_msd_vgg.tflite",
    "MTT_vgg": "musicnn_mtt_vgg.tflite",
}
# The nets run on LiteRT's XNNPACK delegate. The vgg nets' 3x3 convolutions pack into about the
# memory LiteRT's own kernels take and run several times faster there; musicnn's tall front-end
# filters unpack into a far larger working copy under XNNPACK (the worker must fit the hosted app's
# memory beside the server), so those nets stay on the builtin kernels. `bench` measures both.
XNNPACK_NETS: frozenset[str] = frozenset({"MSD_vgg", "MTT_vgg"})
# Size of each net's "penultimate" output: musicnn's dense layer, vgg's flattened last pooling.
PENULTIMATE_DIMS: dict[str, int] = {"MSD_musicnn": 200, "MTT_musicnn": 200, "MSD_vgg": 256, "MTT_vgg": 256}
# The vgg nets' output holding their last block's input (block 4's pooling, [n, 11, 6, 128]).
LAST_BLOCK_INPUT = "pool4"
# A mood model may carry its own fine-tuned copy of a vgg net's last block (`VggLastBlock`): its
# outputs are a "tuned net" of their own, named after the net with this suffix.
TUNED_SUFFIX = "_tuned"
# Patches per LiteRT invoke. The interpreter keeps the tensors of its largest batch for good,
# and a patch costs the same alone as in a batch, so patches go one at a time: the worker's
# memory stays that of one patch however many it embeds.
MAX_BATCH = 1

# musicnn configuration.MSD_LABELS, in the model's output order (spelling kept as published).
TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental",
    "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy",
    "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop",
    "sad", "House", "happy",
)  # fmt: skip
N_TAGS = len(TAGS)
PENULTIMATE_DIM = 200
EMBEDDING_DIM = 2 * N_TAGS + PENULTIMATE_DIM


def log_mel(y16k: np.ndarray) -> np.ndarray:
    """[frames, 96] log-compressed mel spectrogram of 16 kHz mono audio, as musicnn computes it
    (librosa's melspectrogram: power of a centred Hann STFT, Slaney mel filters).

    musicnn rounds the mel power to float16 before the log; we keep that rounding but take the
    log in float32, because `10000 * x` in float16 overflows to inf for loud frames (x > 6.55).
    """
    power = dsp.stft_magnitude(np.ascontiguousarray(y16k, dtype=np.float32), FFT_SIZE, FFT_HOP) ** 2
    mel = (dsp.mel_filterbank(float(SR), FFT_SIZE, N_MELS) @ power).T
    mel = mel.astype(np.float16).astype(np.float32)
    return np.log10(10000.0 * mel + 1.0).astype(np.float32)


def patches(spec: np.ndarray, max_patches: int = MAX_PATCHES) -> np.ndarray:
    """Non-overlapping [n, 187, 96] patches; a short spectrogram is repeat-padded (as in training)."""
    if spec.shape[0] < PATCH_FRAMES:
        reps = -(-PATCH_FRAMES // max(spec.shape[0], 1))
        spec = np.tile(spec, (reps, 1))[:PATCH_FRAMES]
    n = spec.shape[0] // PATCH_FRAMES
    starts = np.arange(n) * PATCH_FRAMES
    if n > max_patches:
        # Spread the patches evenly over the clip, away from its edges (one patch: the middle).
        starts = starts[np.linspace(0, n - 1, max_patches + 2)[1:-1].round().astype(int)]
    return np.stack([spec[s : s + PATCH_FRAMES] for s in starts]).astype(np.float32)


def summarize(per_patch: np.ndarray) -> np.ndarray:
    """[patches, 50 tags + 200 penultimate] → mean and std of the tags, mean of the penultimate."""
    tags, pen = per_patch[:, :N_TAGS], per_patch[:, N_TAGS:]
    return np.concatenate([tags.mean(axis=0), tags.std(axis=0), pen.mean(axis=0)]).astype(np.float32)


# The other nets' embedders, one per process each (MSD_musicnn's is MusicnnEmbedder.load()).
_NETS: dict[str, MusicnnEmbedder] = {}
_NETS_LOCK = threading.Lock()


def tuned_net(net: str) -> str:
    """The name of a net's fine-tuned copy (its last block tuned, `VggLastBlock`)."""
    return net + TUNED_SUFFIX


def base_net(net: str) -> str:
    """The net of the wheel a (possibly tuned) net runs on."""
    return net.removesuffix(TUNED_SUFFIX)


def net_output_dim(net: str) -> int:
    """Values per patch a net gives: its 50 tag probabilities and its penultimate layer."""
    return N_TAGS + PENULTIMATE_DIMS[base_net(net)]


@dataclass(frozen=True)
class VggLastBlock:
    """A vgg net's last block as plain weights: 3x3 conv (HWIO) with relu, batch norm as a
    per-channel scale/shift, max-pool (its window is its stride), and the net's tag layer on
    the flattened pooling. Fine-tuned on the mood sets (`app.music.finetune`), it turns the net's
    last block input (LAST_BLOCK_INPUT) into outputs shaped like the net's own."""

    kernel: np.ndarray
    bias: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    pool: tuple[int, int]
    dense_kernel: np.ndarray
    dense_bias: np.ndarray

    FIELDS = ("kernel", "bias", "scale", "shift", "pool", "dense_kernel", "dense_bias")

    def flat(self, pool4: np.ndarray) -> np.ndarray:
        """[n, 256] flattened last pooling for [n, 11, 6, 128] block inputs (numpy: the conv as
        one matrix product over the nine shifted copies of the padded input)."""
        if len(pool4) > 256:  # the shifted copies take 9x the input: a chunk at a time
            return np.concatenate([self.flat(pool4[i : i + 256]) for i in range(0, len(pool4), 256)])
        x = np.asarray(pool4, dtype=np.float32)
        n, h, w, c = x.shape
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        cols = np.concatenate([padded[:, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=3)
        y = np.maximum(cols @ self.kernel.reshape(9 * c, -1) + self.bias, 0.0) * self.scale + self.shift
        ph, pw = (int(v) for v in self.pool)
        oh, ow = (h - ph) // ph + 1, (w - pw) // pw + 1
        y = y[:, : oh * ph, : ow * pw].reshape(n, oh, ph, ow, pw, -1).max(axis=(2, 4))
        return y.reshape(n, -1)

    def outputs(self, pool4: np.ndarray) -> np.ndarray:
        """[n, 50 tags + 256] as the net's LiteRT model gives them (`MusicnnEmbedder.outputs`)."""
        flat = self.flat(pool4)
        tags = 1.0 / (1.0 + np.exp(-(flat @ self.dense_kernel + self.dense_bias)))
        return np.concatenate([tags, flat], axis=1).astype(np.float32)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The block as named arrays (a model file's), read back by `from_arrays`."""
        return {f"{prefix}{k}": np.asarray(getattr(self, k), dtype=np.float32) for k in self.FIELDS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> VggLastBlock:
        values = {k: arrays[f"{prefix}{k}"] for k in cls.FIELDS}
        values["pool"] = tuple(int(v) for v in values["pool"])
        return cls(**values)


def frozen_outputs(raw: dict[str, np.ndarray]) -> np.ndarray:
    """[patches, 50 tags + penultimate]: a net's own outputs from its raw LiteRT outputs."""
    return np.concatenate([raw["taggram"], raw["penultimate"]], axis=1)


def net_outputs(net: str, raw: dict[str, np.ndarray], tuned: Mapping[str, VggLastBlock]) -> np.ndarray:
    """[patches, 50 tags + penultimate] of `net` from its base net's raw LiteRT outputs
    (`MusicnnEmbedder.run_patches`): the net's own, or its tuned last block's."""
    if net == base_net(net):
        return frozen_outputs(raw)
    if LAST_BLOCK_INPUT not in raw:
        file = NET_FILES[base_net(net)]
        raise EmbeddingModelError(f"{file} lacks the {LAST_BLOCK_INPUT} output; rebuild it with {REBUILD}")
    return tuned[net].outputs(raw[LAST_BLOCK_INPUT])


def patch_batch(y: np.ndarray, sr: int, max_patches: int = MAX_PATCHES) -> np.ndarray:
    """[n, 187, 96] log-mel patches of a clip (any rate, mono or multichannel), at most
    `max_patches` spread over it: every net of the wheel reads the same input."""
    y = to_mono(y)
    if y.size == 0 or not np.all(np.isfinite(y)):
        raise ValueError("audio is empty or contains invalid samples")
    # The resampler librosa.load uses in musicnn's own extractor.
    return patches(log_mel(resample(y, sr, SR)), max_patches)


class MusicnnEmbedder:
    """musicnn MSD tagger run by LiteRT. Use `MusicnnEmbedder.load()` (one instance per process)."""

    def __init__(self, model_path: Path, xnnpack: bool = False) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        if not model_path.is_file():
            raise EmbeddingModelError(f"music embedding model not found at {model_path}; build it with {REBUILD}")
        try:
            # One thread: the app serves several sessions on a small box, and workers run side by side.
            # XNNPACK (LiteRT's default delegate) only where asked: see XNNPACK_NETS.
            resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            self._interpreter = Interpreter(
                model_path=str(model_path), num_threads=1, experimental_op_resolver_type=resolver
            )
            self._runner = self._interpreter.get_signature_runner("serving_default")
            outputs = set(self._interpreter.get_signature_list()["serving_default"]["outputs"])
        except Exception as exc:  # LiteRT raises ValueError/RuntimeError for a bad flatbuffer
            raise EmbeddingModelError(
                f"{model_path} is not a usable LiteRT model ({exc}); rebuild it with {REBUILD}"
            ) from None
        self.model_path = model_path
        if not {"taggram", "penultimate"} <= outputs:
            raise EmbeddingModelError(f"{model_path} lacks the taggram/penultimate outputs (has {sorted(outputs)})")
        # The interpreter holds mutable tensors: one invoke at a time.
        self._lock = threading.Lock()

    @load_once
    def load(cls) -> MusicnnEmbedder:
        """The process-wide embedder, loaded from the repo's models/ folder on first use."""
        return cls(MODELS_DIR / MUSICNN_MODEL_FILE)

    @classmethod
    def for_net(cls, net: str) -> MusicnnEmbedder:
        """The process-wide embedder of one of `NET_FILES`' nets (MSD_musicnn is `load()`)."""
        if net == "MSD_musicnn":
            return cls.load()
        if net not in NET_FILES:
            raise EmbeddingModelError(f"unknown musicnn net {net!r}; known: {sorted(NET_FILES)}")
        with _NETS_LOCK:
            if net not in _NETS:
                path = MODELS_DIR / NET_FILES[net]
                if not path.is_file():
                    raise EmbeddingModelError(f"{path} is missing; build it with {REBUILD}")
                _NETS[net] = cls(path, xnnpack=net in XNNPACK_NETS)
            return _NETS[net]

    def run_patches(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Raw model outputs for [n, 187, 96] log-mel patches (invokes of at most MAX_BATCH)."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        parts: dict[str, list[np.ndarray]] = {}
        with self._lock:
            for start in range(0, len(batch), MAX_BATCH):
                out = self._runner(x=batch[start : start + MAX_BATCH])
                for key, value in out.items():
                    parts.setdefault(key, []).append(np.array(value))  # copy: buffers are reused next call
        return {key: np.concatenate(values) for key, values in parts.items()}

    def outputs(self, batch: np.ndarray) -> np.ndarray:
        """[patches, 50 tags + penultimate] for [n, 187, 96] log-mel patches (`patch_batch`)."""
        return frozen_outputs(self.run_patches(batch))

    def patch_outputs(self, y: np.ndarray, sr: int, max_patches: int = MAX_PATCHES) -> np.ndarray:
        """[patches, 50 tags + 200 penultimate] for at most `max_patches` 3 s patches spread over
        a clip (any rate, mono or multichannel). Raises ValueError on empty/invalid audio."""
        return self.outputs(patch_batch(y, sr, max_patches))

    def embed(self, y: np.ndarray, sr: int, max_patches: int = MAX_PATCHES) -> np.ndarray:
        """300-d embedding of a clip from at most `max_patches` 3 s patches spread over it."""
        return summarize(self.patch_outputs(y, sr, max_patches))
