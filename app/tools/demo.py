"""The demo catalog: 32 synthesized instrumental clips that span the four Russell quadrants.

The clips come from `app.tools.samples.mood_clip` (seeded: the same files and hashes every
time). They are written as WAV with ID3 title/artist tags and go through the normal ingest
path, so the mood model, not this file, decides each track's quadrant.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from app.config import Settings
from app.library import ImportSummary, IngestResult, ingest_files
from app.tools.samples import SR, mood_clip

CLIPS_PER_QUADRANT = 8

TITLES = {
    "Q1": [
        "Sunlit Run",
        "Bright Parade",
        "Citrus Skies",
        "Jumping Lights",
        "Golden Hour Dash",
        "Confetti Street",
        "Morning Sprint",
        "Kite Festival",
    ],
    "Q2": [
        "Iron Storm",
        "Red Alarm",
        "Fault Line",
        "Pressure Drop",
        "Steel Chase",
        "Night Siren",
        "Broken Gears",
        "Thunder Gate",
    ],
    "Q3": [
        "Grey Window",
        "Last Letter",
        "Empty Platform",
        "Fading Photograph",
        "Rain on Slate",
        "Winter Corridor",
        "Quiet Goodbye",
        "Low Tide",
    ],
    "Q4": [
        "Soft Meadow",
        "Lantern Glow",
        "Still Water",
        "Cotton Clouds",
        "Evening Tea",
        "Slow Harbor",
        "Feather Lullaby",
        "Warm Blanket",
    ],
}
ARTISTS = ["Demo Ensemble", "The Synthetic Quartet", "Numpy Strings", "Sine Wave Collective"]


def demo_specs() -> list[tuple[str, int, str, str]]:
    """(quadrant, index, title, artist) for every demo clip, interleaving quadrants."""
    specs = []
    for index in range(CLIPS_PER_QUADRANT):
        for qi, quadrant in enumerate(("Q1", "Q2", "Q3", "Q4")):
            specs.append((quadrant, index, TITLES[quadrant][index], ARTISTS[(index + qi) % len(ARTISTS)]))
    return specs


def write_demo_wav(path: Path, quadrant: str, index: int, title: str, artist: str) -> None:
    """`mood_clip(quadrant, index)` as a 16-bit WAV at `path`, tagged with title and artist."""
    import soundfile as sf
    from mutagen.id3 import TALB, TIT2, TPE1
    from mutagen.wave import WAVE

    sf.write(path, mood_clip(quadrant, index), SR, subtype="PCM_16")
    tagged = WAVE(path)
    tagged.add_tags()
    tagged.tags.add(TIT2(encoding=3, text=title))
    tagged.tags.add(TPE1(encoding=3, text=artist))
    tagged.tags.add(TALB(encoding=3, text="Moodtune Demo"))
    tagged.save()


def build_demo_catalog(
    *, settings: Settings | None = None, progress: Callable[[int, int, IngestResult], None] | None = None
) -> ImportSummary:
    """Synthesize the clips into a temp folder and ingest them (existing ones are skipped)."""
    with tempfile.TemporaryDirectory(prefix="moodtune-demo-") as folder:
        paths = []
        for quadrant, index, title, artist in demo_specs():
            path = Path(folder) / f"{artist} - {title}.wav"
            write_demo_wav(path, quadrant, index, title, artist)
            paths.append(path)
        return ingest_files(paths, settings=settings, progress=progress, sources=[p.name for p in paths])
