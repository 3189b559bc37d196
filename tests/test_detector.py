"""The face detector and `python -m app eval-detect` on generated photos: the astronaut placed
into bigger canvases at known spots, a tilted copy, and the matching rules on plain boxes."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from cli_helpers import run_cli

from app.config import MODELS_DIR
from app.tools.samples import astronaut_frame
from app.vision import FaceAnalyzer
from app.vision.analyzer import FULL_FRAME_EVERY, crop_face
from app.vision.detector import BLAZEFACE_SPECS, blazeface_anchors
from app.vision.evaluate_detect import height_bin, match
from app.vision.evaluate_track import moving_frames


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer.load()


def test_matching_is_one_to_one_and_needs_half_overlap():
    truth = [(0, 0, 100, 100), (10, 0, 100, 100), (500, 500, 50, 50)]
    found = [(5, 0, 100, 100), (300, 300, 40, 40)]
    # One detection between two overlapping faces counts for one of them only; the far box for none.
    assert sorted(m for m in match(truth, found) if m is not None) == [0]
    assert match([(0, 0, 100, 100)], [(60, 0, 100, 100)]) == [None]  # IoU 0.25
    assert match([(0, 0, 100, 100)], []) == [None]


def test_height_bins_follow_the_contract():
    assert [height_bin(h) for h in (25, 60, 99, 100, 159, 160, 700)] == [
        "0-60",
        "60-100",
        "60-100",
        "100-160",
        "100-160",
        "160+",
        "160+",
    ]


def test_blazeface_anchor_grids_match_mediapipe():
    assert len(blazeface_anchors(BLAZEFACE_SPECS["short"])) == 896
    assert len(blazeface_anchors(BLAZEFACE_SPECS["full"])) == 2304


def test_the_detector_gives_eyes_level_on_an_upright_face(analyzer):
    (det,) = analyzer.detect(astronaut_frame())
    (ax, ay), (bx, by) = sorted(det.eyes)
    assert bx - ax > 0.25 * det.box[2] and abs(by - ay) < 0.1 * det.box[2]


def test_a_tilted_face_is_found_and_levelled_before_it_is_read(analyzer):
    frame = astronaut_frame()
    (upright,) = analyzer.detect(frame)
    cx, cy = upright.box[0] + upright.box[2] / 2, upright.box[1] + upright.box[3] / 2
    tilted = cv2.warpAffine(
        frame, cv2.getRotationMatrix2D((cx, cy), 20, 1.0), (640, 480), borderMode=cv2.BORDER_REFLECT
    )
    dets = analyzer.detect(tilted)
    assert dets, "a face tilted by 20° is still a face"
    gray, tgray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.cvtColor(tilted, cv2.COLOR_BGR2GRAY)
    ref = crop_face(gray, upright.box, upright.eyes).astype(float)
    levelled = crop_face(tgray, dets[0].box, dets[0].eyes).astype(float)
    unlevelled = crop_face(tgray, dets[0].box).astype(float)
    assert np.corrcoef(ref.ravel(), levelled.ravel())[0, 1] > np.corrcoef(ref.ravel(), unlevelled.ravel())[0, 1]
    assert analyzer.analyze(tilted)[0].label == "happy"


def _fixture(root, analyzer):
    """Three photos: the astronaut at two spots and sizes in big canvases, plus a labelled face
    where there is none (a miss). Her true box is the detector's box on the plain frame."""
    (root / "images").mkdir(parents=True)
    frame = astronaut_frame()
    x, y, w, h = analyzer.detect(frame)[0].box
    rows = []
    big = np.full((900, 1200, 3), 110, np.uint8)
    big[300:780, 500:1140] = frame
    cv2.imwrite(str(root / "images" / "big.png"), big)
    rows.append(("big.png", x + 500, y + 300, w, h))
    small = np.full((600, 800, 3), 60, np.uint8)
    part = cv2.resize(frame, (480, 360), interpolation=cv2.INTER_AREA)  # three quarters
    small[200:560, 300:780] = part
    cv2.imwrite(str(root / "images" / "small.png"), small)
    rows.append(("small.png", round(x * 0.75) + 300, round(y * 0.75) + 200, round(w * 0.75), round(h * 0.75)))
    rows.append(("small.png", 20, 20, 150, 170))  # nobody there: a face the detector must miss
    with (root / "boxes.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "x", "y", "w", "h"])
        writer.writerows(rows)
    return [r[4] for r in rows]


def test_eval_detect_reports_recall_precision_and_sizes(tmp_path, analyzer):
    heights = _fixture(tmp_path, analyzer)
    out = run_cli("eval-detect", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert (report["n_images"], report["n_faces"]) == (2, 3)
    assert report["recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["precision"] == 1.0
    assert report["ms_per_image_p50"] > 0
    assert set(report["by_height"]) == {"0-60", "60-100", "100-160", "160+"}
    assert report["by_height"][height_bin(heights[0])] == 1.0  # both of her are found
    assert report["by_height"][height_bin(heights[1])] == 1.0
    assert report["by_height"]["160+"] == 0.0  # the 170 px face that isn't there


def test_eval_detect_without_boxes_says_what_it_needs(tmp_path):
    out = run_cli("eval-detect", str(tmp_path), "--json")
    assert out.returncode != 0
    assert "boxes.csv" in out.stderr


def test_the_live_stream_follows_a_face_that_moves_between_frames(analyzer):
    frame = astronaut_frame()
    live = analyzer.stream()
    first = live.analyze(frame)[0].box
    moved = np.roll(frame, 120, axis=1)  # she steps 120 px to the right
    second = live.analyze(moved)[0].box
    assert abs(second[0] - first[0] - 120) < 10


class _CountingDetector:
    """The served detector, counting full-frame searches."""

    def __init__(self, inner):
        self.inner, self.full_searches = inner, 0

    def detect(self, frame):
        self.full_searches += 1
        return self.inner.detect(frame)

    def detect_near(self, frame, box):
        return self.inner.detect_near(frame, box)


def _counting(analyzer: FaceAnalyzer) -> tuple[FaceAnalyzer, _CountingDetector]:
    det = _CountingDetector(analyzer.detector)
    return FaceAnalyzer(analyzer.classifier, det), det


def test_the_live_stream_keeps_a_moving_face_with_few_full_frame_searches(analyzer):
    frame = astronaut_frame()
    (her,) = analyzer.detect(frame)
    clip = moving_frames(frame, [her.box], 30)
    counted, det = _counting(analyzer)
    live = counted.stream()
    for moved, (truth,) in clip:
        faces = live.analyze(moved)
        assert len(faces) == 1 and match([truth], [faces[0].box]) == [0]
        assert faces[0].label == "happy"
    # Detected on all 30 frames, the whole frame searched only every FULL_FRAME_EVERY frames.
    assert det.full_searches == -(-len(clip) // FULL_FRAME_EVERY)


def test_the_live_stream_finds_a_face_that_comes_into_view_and_lets_go_of_one_that_leaves(analyzer):
    frame = astronaut_frame()
    head = frame[10:230, 170:390]
    empty = np.full_like(frame, 120)
    one, two = empty.copy(), empty.copy()
    one[130:350, 40:260] = head
    two[130:350, 40:260] = head
    two[130:350, 380:600] = head[:, ::-1]
    live = analyzer.stream()
    assert len(live.analyze(one)) == 1
    counts = [len(live.analyze(two)) for _ in range(FULL_FRAME_EVERY)]
    assert counts[-1] == 2, "the newcomer is found by the next full-frame search"
    assert [len(live.analyze(two)) for _ in range(3)] == [2, 2, 2], "and then both are followed"
    assert live.analyze(empty) == [], "a face that leaves is let go at once"
    assert len(live.analyze(one)) == 1, "and a face that comes back is found at once"


def test_the_model_card_reports_the_detector_comparison_following_and_crop_checks():
    from app.tools.model_card import detector_section

    metrics = json.loads((MODELS_DIR / "detector_metrics.json").read_text())
    bench = json.loads((MODELS_DIR / "bench.json").read_text())
    card = detector_section(metrics, bench)
    served = metrics["candidates"][metrics["served"]]
    assert f"| {served['recall']:.3f} | {served['precision']:.3f} |" in card
    live = metrics["tracking"]["live_stream"]
    assert f"| {live['recall']:.3f} | {live['precision']:.3f} |" in card
    assert "noise floor" in card and "Are the crops the ones the classifier expects?" in card
    assert "blurriest / middle / sharpest" in card
