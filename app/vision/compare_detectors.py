"""Compare face detectors on a folder of photos with labelled boxes (the `eval-detect` layout).

    python -m app.vision.compare_detectors --data ../shared/data/faces_detect \\
        --blazeface-dir DIR   # face_detection_{short_range,full_range_sparse}.tflite from a mediapipe wheel

Each candidate runs in a fresh process on one thread: the eval-detect report (recall and
precision at IoU ≥ 0.5, recall by face height), ms per 640×480 frame, and the process's memory
growth from loading and running the detector. For faces both the old (Haar) and the served
detector find, it also measures how often the expression read from each one's crop agrees.
Writes `models/detector_metrics.json` (the model card's detector section).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np

from app.config import MODELS_DIR


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _make(name: str, blazeface_dir: Path | None):
    from app.vision import detector as d

    if name == "haar-320":
        return d.HaarDetector()
    if name == "haar-640":
        return d.HaarDetector(detect_width=640, min_height_share=0.0)
    if name.startswith("yunet-"):
        return d.YuNetDetector(detect_width=int(name.split("-")[1]))
    if name == "blazeface-short":
        return d.BlazeFaceDetector(blazeface_dir / "face_detection_short_range.tflite", "short")
    if name == "blazeface-full":
        return d.BlazeFaceDetector(blazeface_dir / "face_detection_full_range_sparse.tflite", "full")
    raise ValueError(name)


def _frame_ms(det, frame: np.ndarray, blocks: int = 5, per_block: int = 40) -> float:
    """Median ms per frame, the lowest of a few block medians so that other load on a shared
    machine counts less."""
    medians = []
    for _ in range(blocks):
        times = []
        for _ in range(per_block):
            t0 = time.perf_counter()
            det.detect(frame)
            times.append(time.perf_counter() - t0)
        medians.append(float(np.median(times)))
    return round(min(medians) * 1000, 2)


def _measure(name: str, data: Path | None, blazeface_dir: Path | None, send) -> None:
    import cv2
    from threadpoolctl import threadpool_limits

    from app.tools.samples import astronaut_frame
    from app.vision.evaluate_detect import evaluate_detector

    cv2.setNumThreads(1)
    frame = astronaut_frame()  # 640×480
    before = _rss_mb()
    with threadpool_limits(1):
        det = _make(name, blazeface_dir)
        det.detect(frame)
        loaded = _rss_mb()
        ms = _frame_ms(det, frame)
        report = {} if data is None else evaluate_detector(data, lambda f: [x.box for x in det.detect(f)])
    report["ms_640x480_p50"] = ms
    report["memory_mb"] = round(loaded - before, 1)
    send.send(report)


def measure(name: str, data: Path | None, blazeface_dir: Path | None) -> dict:
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_measure, args=(name, data, blazeface_dir, send))
    child.start()
    report = receive.recv()
    child.join()
    return report


def expression_agreement(data: Path) -> dict:
    """Faces found by both Haar and the served detector: how often the label read from the
    served crop equals the one read from the Haar-box crop the model was used with before."""
    import cv2

    from app.vision.analyzer import FaceAnalyzer, crop_face
    from app.vision.detector import HaarDetector
    from app.vision.evaluate_detect import load_boxes, match

    analyzer, haar = FaceAnalyzer.load(), HaarDetector()
    old, new = [], []
    for file, boxes in load_boxes(data).items():
        frame = cv2.imread(str(data / "images" / file))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        by_haar, served = haar.detect(frame), analyzer.detect(frame)
        for a, b in zip(match(boxes, [d.box for d in by_haar]), match(boxes, [d.box for d in served]), strict=True):
            if a is not None and b is not None:
                old.append(crop_face(gray, by_haar[a].box))
                new.append(crop_face(gray, served[b].box, served[b].eyes))
    if not old:
        return {"n_faces": 0}
    p_old, p_new = analyzer.classifier.predict(np.stack(old)), analyzer.classifier.predict(np.stack(new))
    return {
        "n_faces": len(old),
        "label_agreement": round(float((p_old.argmax(1) == p_new.argmax(1)).mean()), 4),
        "mean_total_variation": round(float(0.5 * np.abs(p_old - p_new).sum(1).mean()), 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/faces_detect")
    parser.add_argument("--blazeface-dir", default=None, help="folder with MediaPipe's BlazeFace .tflite files")
    parser.add_argument("--served", default="yunet-320", help="the candidate the app serves")
    parser.add_argument(
        "--timing-only", action="store_true", help="re-measure speed and memory into the existing metrics file"
    )
    args = parser.parse_args(argv)
    data = Path(args.data)
    bf = Path(args.blazeface_dir) if args.blazeface_dir else None
    path = MODELS_DIR / "detector_metrics.json"
    if args.timing_only:
        out = json.loads(path.read_text())
        for name, report in out["candidates"].items():
            if name.startswith("blazeface") and bf is None:
                continue
            report.update(measure(name, None, bf))
            print(name, report["ms_640x480_p50"], report["memory_mb"], flush=True)
        path.write_text(json.dumps(out, indent=1))
        return
    names = ["haar-320", "haar-640", "yunet-240", "yunet-320", "yunet-640"]
    if bf is not None:
        names += ["blazeface-short", "blazeface-full"]
    results = {}
    for name in names:
        results[name] = measure(name, data, bf)
        print(name, json.dumps(results[name]), flush=True)
    out = {
        "data": data.name,
        "served": args.served,
        "candidates": results,
        "expression_agreement_with_haar": expression_agreement(data),
    }
    path.write_text(json.dumps(out, indent=1))
    print(json.dumps(out["expression_agreement_with_haar"]))


if __name__ == "__main__":
    main()
