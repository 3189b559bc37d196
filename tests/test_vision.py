"""The live vision pipeline on generated frames: the astronaut photo (a smiling face), a blank
frame, several faces side by side, and the smoother's behaviour over time."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from cli_helpers import run_cli

from app.emotions import FACE_LABELS
from app.tools.samples import astronaut_frame
from app.vision import Face, FaceAnalyzer, MoodSmoother, draw_overlay
from app.vision.analyzer import crop_face


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer.load()


def test_astronaut_is_found_and_happy(analyzer):
    frame = astronaut_frame()
    faces = analyzer.analyze(frame)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    # Her face is in the upper middle of the photo.
    assert 180 < x + w / 2 < 340 and 40 < y + h / 2 < 200
    assert faces[0].label == "happy"
    assert abs(sum(faces[0].probabilities.values()) - 1) < 1e-3
    assert set(faces[0].probabilities) == set(FACE_LABELS)


def test_no_face_gives_empty_result(analyzer):
    blank = np.full((480, 640, 3), 90, np.uint8)
    cv2.circle(blank, (320, 240), 60, (20, 200, 20), -1)  # a shape, not a face
    assert analyzer.analyze(blank) == []


def test_several_faces_one_result_each(analyzer):
    head = astronaut_frame()[10:230, 170:390]  # her head and shoulders, 220x220
    frame = np.full((480, 640, 3), 120, np.uint8)
    frame[130:350, 40:260] = head
    frame[130:350, 380:600] = head[:, ::-1]  # a second, mirrored person
    faces = analyzer.analyze(frame)
    assert len(faces) == 2
    centres = sorted(f.box[0] + f.box[2] / 2 for f in faces)
    assert centres[0] < 320 < centres[1]


def test_a_face_gets_the_same_reading_alone_or_beside_others(analyzer):
    # One batch for all faces of a frame must not let one face's crop change another's reading
    # (a quantized model with ranges per batch instead of per image would).
    frame = astronaut_frame()
    her = crop_face(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), analyzer.analyze(frame)[0].box)
    others = np.stack([np.full((48, 48), 255, np.uint8), np.zeros((48, 48), np.uint8), her[:, ::-1].copy()])
    alone = analyzer.classifier.predict(her[None])[0]
    beside_others = analyzer.classifier.predict(np.concatenate([her[None], others]))[0]
    np.testing.assert_allclose(beside_others, alone, atol=1e-5)


def test_a_still_face_keeps_its_box_and_reading_in_the_live_stream(analyzer):
    # Between full-frame searches the stream looks only around her; on a still frame the box it
    # finds there must not wobble against the full-frame one, nor the reading change.
    live = analyzer.stream()
    frame = astronaut_frame()
    results = [live.analyze(frame) for _ in range(12)]
    assert all(len(r) == 1 for r in results)
    first = results[0][0]
    for (face,) in results[1:]:
        assert max(abs(a - b) for a, b in zip(face.box, first.box, strict=True)) <= 0.06 * first.box[3]
        assert face.label == first.label == "happy"


def test_overlay_draws_box_and_label(analyzer):
    frame = astronaut_frame()
    faces = analyzer.analyze(frame)
    drawn = draw_overlay(frame.copy(), faces)
    x, y, w, h = faces[0].box
    diff = np.abs(drawn.astype(int) - frame.astype(int)).sum(axis=2)
    assert diff[y : y + h, x].mean() > 0  # the box's left edge
    assert diff[max(0, y - 30) : y, x : x + w].sum() > 0  # the label above it


def _face(label: str, box=(100, 100, 80, 80), p: float = 0.9) -> Face:
    rest = (1 - p) / (len(FACE_LABELS) - 1)
    return Face(box, label, {k: (p if k == label else rest) for k in FACE_LABELS})


def test_smoother_converges_and_resets():
    smoother = MoodSmoother(tau_s=1.0, forget_s=1.5)
    mood = None
    for i in range(30):  # 2 s of "sad" at 15 fps
        mood = smoother.update([_face("sad")], i / 15)
    assert mood.label == "sad"
    # One flickering "happy" frame does not flip the mood...
    mood = smoother.update([_face("happy")], 30 / 15)
    assert mood.label == "sad"
    # ...but a sustained change wins within about two seconds.
    for i in range(31, 61):
        mood = smoother.update([_face("happy")], i / 15)
    assert mood.label == "happy"
    assert mood.point.valence > 0.3
    # Briefly losing the face keeps the mood; a long absence reports "no face".
    assert smoother.update([], 61 / 15 + 0.5) is not None
    assert smoother.update([], 61 / 15 + 2.0) is None


def test_smoother_prefers_the_larger_face():
    smoother = MoodSmoother()
    small, large = _face("angry", (10, 10, 40, 40)), _face("happy", (300, 200, 160, 160))
    mood = smoother.update([small, large], 0.0, (640, 480))
    assert mood.label == "happy" and mood.faces == 2


def test_eval_face_prints_json_shape(tmp_path):
    """eval-face on a tiny generated folder: crops of the astronaut's face plus a folder to ignore."""
    analyzer = FaceAnalyzer.load()
    frame = astronaut_frame()
    x, y, w, h = analyzer.analyze(frame)[0].box
    crop = cv2.cvtColor(frame[y : y + h, x : x + w], cv2.COLOR_BGR2GRAY)
    for label in ("happy", "neutral"):
        (tmp_path / label).mkdir()
        for i in range(2):
            cv2.imwrite(str(tmp_path / label / f"{i}.png"), cv2.resize(crop, (48 + i, 48 + i)))
    (tmp_path / "not_a_label").mkdir()
    cv2.imwrite(str(tmp_path / "not_a_label" / "x.png"), crop)
    out = run_cli("eval-face", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == 4
    assert set(report["per_class"]) == {"happy", "neutral"}
    assert 0 <= report["accuracy"] <= 1 and 0 <= report["macro_f1"] <= 1
    assert report["per_class"]["happy"] == 1.0  # the astronaut smiles


def test_missing_face_model_is_a_clear_error(tmp_path):
    from app.vision.analyzer import ExpressionClassifier, VisionModelError

    with pytest.raises(VisionModelError, match="missing"):
        ExpressionClassifier(tmp_path / "nope.tflite")
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"not a model")
    with pytest.raises(VisionModelError, match="corrupt"):
        ExpressionClassifier(corrupt)


def test_validation_copies_of_training_images_are_left_out_of_selection(tmp_path):
    from app.vision.splits import clean_val_files
    from app.vision.train import load_split

    rng = np.random.default_rng(0)
    faces = [rng.integers(0, 256, (48, 48), dtype=np.uint8) for _ in range(3)]
    for split, label, i in (("train", "happy", 0), ("train", "sad", 1), ("val", "happy", 0), ("val", "sad", 2)):
        (tmp_path / split / label).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / split / label / f"{i}.png"), faces[i])
    kept, dupes = clean_val_files(tmp_path)
    assert [p.name for p, _ in dupes] == ["0.png"] and [lab for _, lab in kept] == ["sad"]
    x, y = load_split(tmp_path, "val", tmp_path / "cache")
    assert len(x) == 1 and FACE_LABELS[int(y[0])] == "sad"


def test_the_overlay_marks_the_face_the_music_follows():
    """Issue 30 (6): with two faces in view, the one the music follows is drawn in its mood's
    colour with a thicker box and says so; the other is thin and grey."""
    from app.vision.overlay import LABEL_COLOURS, OTHER_FACE_COLOUR

    frame = np.full((480, 640, 3), 90, np.uint8)
    large, followed = _face("sad", box=(20, 150, 220, 220)), _face("happy", box=(400, 250, 120, 120))
    drawn = draw_overlay(frame.copy(), [large, followed], primary_label="happy", followed_box=(402, 248, 118, 121))

    def left_edge(face: Face, dx: int) -> tuple[int, ...]:
        x, y, _, h = face.box
        return tuple(int(c) for c in drawn[y + h // 2, x + dx])

    assert left_edge(followed, 0) == LABEL_COLOURS["happy"] and left_edge(followed, 1) == LABEL_COLOURS["happy"]
    assert left_edge(large, 0) == OTHER_FACE_COLOUR and left_edge(large, 1) == (90, 90, 90)  # thin, grey
    # The followed face's label is the wider one: it names the mood and that the music follows it.
    band = (drawn[:, :, :] == LABEL_COLOURS["happy"]).all(axis=2)[200:250].any(axis=0)
    assert band.sum() > 200


def test_the_live_overlay_marks_the_face_the_smoother_follows():
    """Through the camera's frame processor: the followed face is the smoother's primary face
    (centred and large), not simply the first face the detector lists."""
    from app.listening.live import AnalysisBudget, MoodHolder, make_frame_processor
    from app.vision.overlay import LABEL_COLOURS, OTHER_FACE_COLOUR

    centred, corner = _face("happy", box=(230, 150, 180, 180)), _face("sad", box=(0, 0, 190, 190))

    class TwoFaces:
        def analyze(self, image_bgr):
            return [corner, centred]  # the detector lists the corner face first

    now = [0.0]
    process = make_frame_processor(
        TwoFaces(), MoodHolder(), MoodSmoother(), draw_overlay, clock=lambda: now[0], budget=AnalysisBudget()
    )
    frame = np.full((480, 640, 3), 90, np.uint8)
    out = process(frame)
    x, y, _, h = centred.box
    assert tuple(int(c) for c in out[y + h // 2, x]) == LABEL_COLOURS["happy"]
    x, y, _, h = corner.box
    assert tuple(int(c) for c in out[y + h // 2, x]) == OTHER_FACE_COLOUR
