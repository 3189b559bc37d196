"""Draw the live emotion overlay: a box per face, its label with percentage, top-3 bars."""

from __future__ import annotations

import numpy as np

from app.vision.analyzer import Face

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


def draw_overlay(frame_bgr: np.ndarray, faces: list[Face], primary_label: str | None = None) -> np.ndarray:
    """Draw on `frame_bgr` in place and return it. `primary_label` (the smoothed mood) replaces
    the per-frame label on the first (primary) face so the text doesn't flicker."""
    import cv2

    h_img, w_img = frame_bgr.shape[:2]
    scale = max(0.5, min(1.2, w_img / 900))  # legible at 640x480 and at 1280x720
    thick = max(1, int(round(2 * scale)))
    for i, face in enumerate(faces):
        x, y, w, h = face.box
        label = primary_label if (i == 0 and primary_label) else face.label
        colour = LABEL_COLOURS.get(label, (255, 255, 255))
        cv2.rectangle(frame_bgr, (x, y), (x + w, y + h), colour, thick)
        text = f"{label} {face.probabilities.get(label, 0.0) * 100:.0f}%"
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
