"""Vision: face detection, the expression classifier, temporal smoothing and the overlay.

TensorFlow is only used by `app.vision.train`; serving runs the exported model with LiteRT.
"""

from app.vision.analyzer import Face, FaceAnalyzer, LiveAnalyzer, VisionModelError
from app.vision.overlay import draw_overlay
from app.vision.smoothing import MoodSmoother, SmoothedMood

__all__ = ["Face", "FaceAnalyzer", "LiveAnalyzer", "MoodSmoother", "SmoothedMood", "VisionModelError", "draw_overlay"]
