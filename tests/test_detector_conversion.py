"""The served detector (YuNet converted to LiteRT, models/face_detector_yunet.tflite) finds the
same faces as the yuface library it was converted from, on frames the tests make, and is
replaced only when the conversion reproduces the library."""

from __future__ import annotations

import numpy as np
import pytest

from app.config import FACE_DETECTOR_FILE, MODELS_DIR
from app.vision.convert_yunet import NativeYuNet, parity, parity_frames, parity_holds
from app.vision.detector import DetectorError, YuNetDetector, YuNetLite


def test_the_served_detector_finds_what_the_library_finds():
    report = parity(MODELS_DIR / FACE_DETECTOR_FILE)
    assert [r["native"] for r in report] == [r["lite"] for r in report]
    assert all(r["native"] >= 1 for r in report)  # every frame shows the face
    assert parity_holds(report), report


def test_boxes_and_eyes_agree_within_a_pixel_on_every_frame():
    lite, native = YuNetLite(MODELS_DIR / FACE_DETECTOR_FILE), NativeYuNet()
    for frame in parity_frames():
        ours, ref = lite.detect(frame, 0.6), native.detect(frame, 0.6)
        assert len(ours) == len(ref) == 1
        # The library truncates to whole pixels, so ours lies within [ref, ref + 1).
        assert np.all(ours[0, 1:7] - ref[0, 1:7] > -0.05) and np.all(ours[0, 1:7] - ref[0, 1:7] < 1.05)


def test_a_blank_frame_has_no_face():
    lite = YuNetLite(MODELS_DIR / FACE_DETECTOR_FILE)
    assert len(lite.detect(np.full((240, 320, 3), 127, np.uint8), 0.5)) == 0


def test_a_conversion_that_drifts_is_refused():
    report = [{"native": 1, "lite": 1, "box_px": 3.0, "landmark_px": 0.5, "score": 0.001}]
    assert not parity_holds(report)
    assert not parity_holds([{"native": 1, "lite": 0, "box_px": 0.0, "landmark_px": 0.0, "score": 0.0}])


def test_a_missing_detector_file_says_how_to_make_it(tmp_path):
    with pytest.raises(DetectorError, match="convert_yunet"):
        YuNetDetector(net=YuNetLite(tmp_path / "absent.tflite"))


def test_a_live_stream_runs_the_network_at_two_sizes_only():
    """The full frame and every tracking region (whatever its clipping at the frame's edge) share
    two interpreters, so following a face never re-plans the network or grows memory."""
    from app.tools.samples import astronaut_frame
    from app.vision import FaceAnalyzer
    from app.vision.analyzer import ExpressionClassifier
    from app.vision.evaluate_track import moving_frames

    net = YuNetLite(MODELS_DIR / FACE_DETECTOR_FILE)
    built, make = [], net._make
    net._make = lambda: built.append(1) or make()  # count the interpreters it builds
    analyzer = FaceAnalyzer(ExpressionClassifier(MODELS_DIR / "face_expression.tflite"), YuNetDetector(net=net))
    live = analyzer.stream()
    frame = astronaut_frame()
    shifted = [np.roll(frame, dx, axis=1) for dx in (-260, -200, 0, 200, 260)]  # face near both edges
    found = [len(live.analyze(f)) for f in [*(m for m, _ in moving_frames(frame, [], 30)), *shifted] * 2]
    assert sum(found) >= len(found) - 2
    assert len(built) == 2
