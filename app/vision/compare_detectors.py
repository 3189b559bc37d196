"""Compare face detectors on a folder of photos with labelled boxes (the `eval-detect` layout).

    python -m app.vision.compare_detectors --data ../shared/data/faces_detect \\
        --blazeface-dir DIR   # face_detection_{short_range,full_range_sparse}.tflite from a mediapipe wheel

Each candidate runs in a fresh process on one thread: the eval-detect report (recall and
precision at IoU ≥ 0.5, recall by face height), ms per 640×480 frame, and the process's memory
growth from loading and running the detector. Then whether a face's expression depends on which
box it was cropped from (`expression_agreement`: served detector, Haar, the labelled box, the live
stream's followed box), and whether the served crops are the ones the classifier expects
(`crop_check`, on FER2013's own crops), and the served detector's recall by sharpness, light and
face shape (`misses_by_condition`). Writes `models/detector_metrics.json` (the model card's
detector section); `--crops-only` re-measures the last three and keeps the rest.
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
    if name.startswith("yunet-native-"):  # the yuface library the served model was converted from
        from app.vision.convert_yunet import NativeYuNet

        return d.YuNetDetector(detect_width=int(name.rsplit("-", 1)[1]), net=NativeYuNet())
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


def _agreement(p_a: np.ndarray, p_b: np.ndarray) -> dict:
    """How often two readings of the same faces give the same label, and how far apart they are."""
    if not len(p_a):
        return {"n_faces": 0}
    return {
        "n_faces": len(p_a),
        "label_agreement": round(float((p_a.argmax(1) == p_b.argmax(1)).mean()), 4),
        "mean_total_variation": round(float(0.5 * np.abs(p_a - p_b).sum(1).mean()), 4),
    }


def expression_agreement(data: Path) -> dict:
    """Does a face's expression depend on which detector found it? Each labelled face is cropped
    the way the app crops it from the served detector's box and eyes, from Haar's box, from its
    labelled box, and from the box the live stream finds on the next frame, when it searches only
    around the faces it has; the served classifier reads each crop. Each pair is compared on the
    faces both boxes exist for. The served detector on the photo moved by one pixel gives the
    noise floor: how much a crop's smallest change moves the reading. Each pair is also given for
    faces 100 px and taller (by the label), the size a webcam listener shows."""
    import cv2

    from app.vision.analyzer import FaceAnalyzer, crop_face
    from app.vision.detector import Detection, HaarDetector
    from app.vision.evaluate_detect import load_boxes, match

    analyzer, haar = FaceAnalyzer.load(), HaarDetector()
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray, int]]] = {
        k: []
        for k in (
            "served_vs_haar",
            "served_vs_labelled_box",
            "haar_vs_labelled_box",
            "followed_vs_served",
            "served_1px_shifted_vs_served",
        )
    }
    heights = []
    for file, boxes in load_boxes(data).items():
        frame = cv2.imread(str(data / "images" / file))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        live = analyzer.stream()
        by_haar, served = haar.detect(frame), live.detect(frame)  # a stream's first frame: the full frame
        followed = live.detect(frame)  # the next: searched around each face found
        # The noise floor: the same photo one pixel down and right, boxes moved back.
        shifted = [
            Detection(
                (d.box[0] - 1, d.box[1] - 1, *d.box[2:]), d.score, d.eyes and tuple((x - 1, y - 1) for x, y in d.eyes)
            )
            for d in analyzer.detect(np.ascontiguousarray(np.roll(frame, (1, 1), axis=(0, 1))))
        ]
        matches = (match(boxes, [d.box for d in dets]) for dets in (by_haar, served, followed, shifted))
        for truth, a, b, c, e in zip(boxes, *matches, strict=True):
            truth_crop = crop_face(gray, truth)
            if a is not None:
                haar_crop = crop_face(gray, by_haar[a].box)
                pairs["haar_vs_labelled_box"].append((haar_crop, truth_crop, truth[3]))
            if b is None:
                continue
            det = served[b]
            served_crop = crop_face(gray, det.box, det.eyes)
            heights.append(det.box[3] / max(1, truth[3]))
            pairs["served_vs_labelled_box"].append((served_crop, truth_crop, truth[3]))
            if a is not None:
                pairs["served_vs_haar"].append((served_crop, haar_crop, truth[3]))
            if c is not None:
                follow_crop = crop_face(gray, followed[c].box, followed[c].eyes)
                pairs["followed_vs_served"].append((follow_crop, served_crop, truth[3]))
            if e is not None:
                shifted_crop = crop_face(gray, shifted[e].box, shifted[e].eyes)
                pairs["served_1px_shifted_vs_served"].append((shifted_crop, served_crop, truth[3]))
    out: dict = {"n_faces": sum(len(b) for b in load_boxes(data).values())}
    for key, rows in pairs.items():
        if not rows:
            out[key] = {"n_faces": 0}
            continue
        p_a, p_b = (analyzer.classifier.predict(np.stack([r[i] for r in rows])) for i in (0, 1))
        big = np.asarray([r[2] >= 100 for r in rows])
        out[key] = {**_agreement(p_a, p_b), "faces_100px_plus": _agreement(p_a[big], p_b[big])}
    out["served_box_height_over_labelled"] = round(float(np.median(heights)), 3) if heights else None
    return out


def misses_by_condition(data: Path) -> dict:
    """The served detector's recall split by what the WIDER labels here leave out: the face's
    sharpness (variance of the Laplacian of its box, resized to 64 px), brightness (mean grey) and
    shape (width / height: a turned face is narrower), each in thirds of the labelled faces, for
    all faces and for faces 100 px and taller. A proxy for blur, light and pose, not a label."""
    import cv2

    from app.vision.analyzer import FaceAnalyzer
    from app.vision.evaluate_detect import load_boxes, match

    analyzer = FaceAnalyzer.load()
    rows = []  # (height, sharpness, brightness, aspect, found)
    for file, boxes in load_boxes(data).items():
        frame = cv2.imread(str(data / "images" / file))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        found = match(boxes, [d.box for d in analyzer.detect(frame)])
        for (x, y, w, h), m in zip(boxes, found, strict=True):
            part = gray[max(0, y) : y + h, max(0, x) : x + w]
            if part.size == 0:
                continue
            part = cv2.resize(part, (64, 64), interpolation=cv2.INTER_AREA)
            sharp = float(cv2.Laplacian(part, cv2.CV_64F).var())
            rows.append((h, sharp, float(part.mean()), w / max(1, h), m is not None))
    arr = np.asarray(rows, np.float64)
    out: dict = {}
    for scope, keep in (("all", np.ones(len(arr), bool)), ("100px+", arr[:, 0] >= 100)):
        sub = arr[keep]
        out[scope] = {"n_faces": int(len(sub))}
        for col, name, thirds in (
            (1, "sharpness", ("blurriest", "middle", "sharpest")),
            (2, "brightness", ("darkest", "middle", "brightest")),
            (3, "width_over_height", ("narrowest", "middle", "widest")),
        ):
            cuts = np.quantile(sub[:, col], [1 / 3, 2 / 3])
            bins = np.digitize(sub[:, col], cuts)
            out[scope][name] = {
                label: {
                    "recall": round(float(sub[bins == i, 4].mean()), 4),
                    "up_to": (round(float(cuts[i]), 2) if i < 2 else None),
                }
                for i, label in enumerate(thirds)
            }
    return out


def crop_check(fer_root: Path, scales: tuple[float, ...] = (0.9, 1.0, 1.1)) -> dict:
    """Are the app's crops the ones the classifier expects? FER2013 val (without its copies of
    training images), each 48×48 crop enlarged 3× with a replicated border, goes through the
    served detector and `crop_face`; the classifier's accuracy on those re-crops is compared with
    its accuracy on the crops as given, by crop scale and without levelling the eyes. Also where
    the served detector's box sits in a FER crop."""
    import cv2

    from app.emotions import FACE_LABELS
    from app.vision.analyzer import CROP_SCALE, INPUT_SIZE, FaceAnalyzer, crop_face
    from app.vision.splits import clean_val_files

    enlarge, pad = 3, INPUT_SIZE
    analyzer = FaceAnalyzer.load()
    kept, _ = clean_val_files(fer_root)
    given, labels, boxes = [], [], []
    recrops: dict[float, list[np.ndarray]] = {s: [] for s in scales}
    unlevelled: list[np.ndarray] = []
    for f, label in kept:
        crop = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        if crop is None or crop.shape != (INPUT_SIZE, INPUT_SIZE):
            continue
        big = cv2.resize(crop, None, fx=enlarge, fy=enlarge, interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        dets = analyzer.detect(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))
        if not dets:
            continue
        det = dets[0]
        given.append(crop)
        labels.append(FACE_LABELS.index(label))
        x, y, w, h = det.box
        boxes.append(((x - pad) / enlarge, (y - pad) / enlarge, w / enlarge, h / enlarge))
        for s in scales:
            recrops[s].append(crop_face(big, det.box, det.eyes, scale=s))
        unlevelled.append(crop_face(big, det.box))

    def read(crops: list[np.ndarray]) -> np.ndarray:
        arr = np.stack(crops)
        return np.concatenate([analyzer.classifier.predict(arr[i : i + 256]) for i in range(0, len(arr), 256)])

    y = np.asarray(labels)
    p_given = read(given)
    p_re = {s: read(c) for s, c in recrops.items()}
    b = np.asarray(boxes)
    return {
        "data": "fer2013/val without training copies",
        "n_images": len(kept),
        "n_found": len(y),
        "accuracy_as_given": round(float((p_given.argmax(1) == y).mean()), 4),
        "accuracy_recropped_by_scale": {str(s): round(float((p.argmax(1) == y).mean()), 4) for s, p in p_re.items()},
        "served_scale": CROP_SCALE,
        "accuracy_recropped_unlevelled": round(float((read(unlevelled).argmax(1) == y).mean()), 4),
        "recropped_vs_given": _agreement(p_re[CROP_SCALE], p_given),
        "box_in_fer_crop_px_median": {
            "centre_x": round(float(np.median(b[:, 0] + b[:, 2] / 2)), 1),
            "centre_y": round(float(np.median(b[:, 1] + b[:, 3] / 2)), 1),
            "w": round(float(np.median(b[:, 2])), 1),
            "h": round(float(np.median(b[:, 3])), 1),
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/faces_detect")
    parser.add_argument("--fer", default="../shared/data/fer2013", help="FER2013 with train/ and val/ (crop check)")
    parser.add_argument("--blazeface-dir", default=None, help="folder with MediaPipe's BlazeFace .tflite files")
    parser.add_argument("--served", default="yunet-320", help="the candidate the app serves")
    parser.add_argument(
        "--timing-only", action="store_true", help="re-measure speed and memory into the existing metrics file"
    )
    parser.add_argument(
        "--crops-only",
        action="store_true",
        help="re-measure only the expression agreement, the crop check and the misses by condition",
    )
    args = parser.parse_args(argv)
    data = Path(args.data)
    bf = Path(args.blazeface_dir) if args.blazeface_dir else None
    path = MODELS_DIR / "detector_metrics.json"
    out = json.loads(path.read_text()) if path.is_file() else {}
    if args.timing_only:
        for name, report in out["candidates"].items():
            if name.startswith("blazeface") and bf is None:
                continue
            report.update(measure(name, None, bf))
            print(name, report["ms_640x480_p50"], report["memory_mb"], flush=True)
        path.write_text(json.dumps(out, indent=1))
        return
    if not args.crops_only:
        names = ["haar-320", "haar-640", "yunet-240", "yunet-320", "yunet-native-320", "yunet-640"]
        if bf is not None:
            names += ["blazeface-short", "blazeface-full"]
        results = {}
        for name in names:
            results[name] = measure(name, data, bf)
            print(name, json.dumps(results[name]), flush=True)
        out.update({"data": data.name, "served": args.served, "candidates": results})
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    with threadpool_limits(1):
        out.pop("expression_agreement_with_haar", None)  # the earlier, Haar-only form of the next entry
        out["expression_agreement"] = expression_agreement(data)
        print(json.dumps(out["expression_agreement"]), flush=True)
        out["crop_check"] = crop_check(Path(args.fer))
        print(json.dumps(out["crop_check"]), flush=True)
        out["misses_by_condition"] = misses_by_condition(data)
        print(json.dumps(out["misses_by_condition"]), flush=True)
    path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
