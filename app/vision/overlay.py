"""Draw the live emotion overlay: a box per face, its label with percentage, top-3 bars."""

from __future__ import annotations

import numpy as np

from app.vision.analyzer import Face
from app.vision.detector import box_iou

# BGR colours per label, chosen to read on both light and dark backgrounds.
LABEL_COLOURS: dict[str, tuple[int, int, int]] = {
    "angry": (40, 40, 220),
    "disgust": (40, 140, 60),
    "fear": (160, 60, 160),
    "happy": (0, 200, 255),
    "neutral": (200, 200, 200),
    "sad": (220, 120, 40),
    "surprise": (0, 140, 255),
}


OTHER_FACE_COLOUR = (150, 150, 150)  # BGR: a face in view that the music doesn't follow
FOLLOWED_WORDS = "music follows"  # said on the followed face's label when others are in view


def followed_face(faces: list[Face], followed_box: tuple[int, int, int, int] | None) -> int | None:
    """The index of the face the music follows: the one that overlaps the smoother's primary
    box most (it picks by size and centring, not always the detector's largest), else the first."""
    if not faces:
        return None
    if followed_box is None:
        return 0
    overlaps = box_iou(np.asarray(followed_box, np.float64), np.asarray([face.box for face in faces]))
    return int(np.argmax(overlaps))


def draw_overlay(
    frame_bgr: np.ndarray,
    faces: list[Face],
    primary_label: str | None = None,
    followed_box: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Draw on `frame_bgr` in place and return it. The face the music follows (the one at
    `followed_box`, the smoother's primary; the first face without it) is drawn in its mood's
    colour with `primary_label` (the smoothed mood, so the text doesn't flicker); with more than
    one face in view its label also says "music follows" and the others are thin and grey."""
    import cv2

    h_img, w_img = frame_bgr.shape[:2]
    scale = max(0.5, min(1.2, w_img / 900))  # legible at 640x480 and at 1280x720
    thick = max(1, int(round(2 * scale)))
    followed = followed_face(faces, followed_box)
    for i, face in enumerate(faces):
        x, y, w, h = face.box
        is_followed = i == followed
        label = primary_label if (is_followed and primary_label) else face.label
        colour = LABEL_COLOURS.get(label, (255, 255, 255)) if is_followed else OTHER_FACE_COLOUR
        line = 2 * thick + 1 if is_followed and len(faces) > 1 else thick if is_followed else 1
        cv2.rectangle(frame_bgr, (x, y), (x + w, y + h), colour, line)
        text = f"{label} {face.probabilities.get(label, 0.0) * 100:.0f}%"
        if is_followed and len(faces) > 1:
            text = f"{text} - {FOLLOWED_WORDS}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, thick)
        ty = y - 6 if y - th - base - 6 > 0 else y + h + th + 6
        cv2.rectangle(frame_bgr, (x, ty - th - base), (x + tw + 6, ty + base), colour, -1)
        cv2.putText(frame_bgr, text, (x + 3, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, (0, 0, 0), thick, cv2.LINE_AA)
        # Top-3 bars beside the box (or inside it when the face touches the right edge).
        bar_w, bar_h = int(90 * scale), int(14 * scale)
        bx = x + w + 8 if x + w + 8 + bar_w + 70 * scale < w_img else max(0, x + 4)
        top3 = sorted(face.probabilities.items(), key=lambda kv: -kv[1])[:3]
        for j, (lab, p) in enumerate(top3):
            by = y + j * (bar_h + 6)
            cv2.rectangle(frame_bgr, (bx, by), (bx + bar_w, by + bar_h), (50, 50, 50), -1)
            cv2.rectangle(
                frame_bgr, (bx, by), (bx + int(bar_w * p), by + bar_h), LABEL_COLOURS.get(lab, (255, 255, 255)), -1
            )
            cv2.putText(
                frame_bgr,
                f"{lab} {p * 100:.0f}%",
                (bx + bar_w + 4, by + bar_h - 2),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45 * scale,
                (255, 255, 255),
                1,
                cv2.LINE_AA,
            )
    return frame_bgr
