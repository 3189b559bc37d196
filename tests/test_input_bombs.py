"""Small inputs that ask for a lot of memory once decoded: each is refused or read within a bound,
measured as the peak resident memory of a fresh process doing the work (scaled down from the
attack run so the tests stay fast)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

from conftest import audio_bytes

REPO = Path(__file__).resolve().parents[1]

# One frame inflates to this; the attack's file had enough of them to take gigabytes.
BOMB_FRAME_BYTES = 16 << 20
BOMB_FRAMES = 8


def _syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def _compressed_frame(frame_id: bytes, payload: bytes) -> bytes:
    """An ID3v2.4 frame with the compression and data-length flags, as the attack wrote them."""
    body = _syncsafe(len(payload)) + zlib.compress(payload, 9)
    return frame_id + _syncsafe(len(body)) + b"\x00\x09" + body


def _id3_bomb_mp3(path: Path) -> None:
    frames = _compressed_frame(b"TIT2", b"\x03Quiet Title")
    for n in range(BOMB_FRAMES):
        frames += _compressed_frame(b"TXXX", b"\x03pad%d\x00" % n + b"A" * BOMB_FRAME_BYTES)
    tag = b"ID3\x04\x00\x00" + _syncsafe(len(frames)) + frames
    path.write_bytes(tag + audio_bytes("mp3", seconds=1.0))


def _peak_growth_kb(script: str, *args: str) -> dict:
    """Run `script` in a fresh interpreter; it prints a JSON object and the test adds how much the
    process's peak RSS grew between the script's `before = peak()` and its end."""
    prelude = "import json, resource, sys\ndef peak():\n    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + script, *args],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_compressed_id3_bomb_is_read_in_bounded_memory_and_keeps_its_title(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.mp3"
    _id3_bomb_mp3(bomb)
    assert bomb.stat().st_size < 1 << 20  # small on disk: the attack is in the inflation
    warm = tmp_path / "warm.mp3"
    warm.write_bytes(audio_bytes("mp3", seconds=1.0))
    result = _peak_growth_kb(
        "from app.library.checks import read_tags\n"
        "read_tags(sys.argv[2])\n"  # imports and first-use allocations, before measuring
        "before = peak()\n"
        "tags = read_tags(sys.argv[1])\n"
        "print(json.dumps({'tags': tags, 'grew_kb': peak() - before}))\n",
        str(bomb),
        str(warm),
    )
    inflated_mb = BOMB_FRAMES * BOMB_FRAME_BYTES >> 20
    assert result["grew_kb"] < 24 * 1024, f"reading tags grew the process by {result['grew_kb'] // 1024} MB"
    assert inflated_mb >= 100
    assert result["tags"].get("title") == "Quiet Title"


def _blank_png(width: int, height: int) -> bytes:
    """A valid all-black RGB PNG of any size, built row by row: tiny on disk, width×height×3 decoded."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    deflate = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_photo_decompression_bomb_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_blank_png(7000, 7000))  # the attack's was 15000 × 15000
    assert bomb.stat().st_size < 1 << 20
    result = _peak_growth_kb(
        "from pathlib import Path\n"
        "from app.listening.mood import NotAnImage, decode_image\n"
        "data = Path(sys.argv[1]).read_bytes()\n"
        "decode_image(Path(sys.argv[2]).read_bytes())\n"  # imports and first-use allocations
        "before = peak()\n"
        "try:\n"
        "    decode_image(data)\n"
        "    refused = None\n"
        "except NotAnImage as exc:\n"
        "    refused = str(exc)\n"
        "print(json.dumps({'refused': refused, 'grew_kb': peak() - before}))\n",
        str(bomb),
        str(_small_png(tmp_path)),
    )
    assert result["refused"] and "megapixel" in result["refused"]
    assert result["grew_kb"] < 24 * 1024, f"the refused photo grew the process by {result['grew_kb'] // 1024} MB"


def test_many_big_photos_at_once_are_decoded_two_at_a_time_and_kept_small(tmp_path: Path) -> None:
    photo = tmp_path / "big.png"
    photo.write_bytes(_blank_png(4000, 3000))  # 12 MP, under the limit: 36 MB decoded
    result = _peak_growth_kb(
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from pathlib import Path\n"
        "from app.listening.mood import MAX_ANALYSED_SIDE, decode_image\n"
        "data = Path(sys.argv[1]).read_bytes()\n"
        "decode_image(Path(sys.argv[2]).read_bytes())\n"
        "before = peak()\n"
        "with ThreadPoolExecutor(8) as pool:\n"
        "    images = list(pool.map(lambda _: decode_image(data), range(8)))\n"
        "print(json.dumps({'shape': images[0].shape, 'grew_kb': peak() - before, 'side': MAX_ANALYSED_SIDE}))\n",
        str(photo),
        str(_small_png(tmp_path)),
    )
    assert max(result["shape"][:2]) == result["side"]
    # Eight visitors at once: two decodes at a time and eight small copies (about 140 MB here), not
    # eight decodes at once (about 410 MB here).
    assert result["grew_kb"] < 200 * 1024, f"eight photos at once grew the process by {result['grew_kb'] // 1024} MB"


def _small_png(tmp_path: Path) -> Path:
    path = tmp_path / "small.png"
    path.write_bytes(_blank_png(64, 48))
    return path


def test_a_photo_over_the_pixel_limit_gets_a_message_on_the_mood_page(tmp_path: Path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.pages_support import APP_FILE, cleanup_engines, configure_env, seed_catalog

    _, media = configure_env(monkeypatch, tmp_path)
    seed_catalog(media, tmp_path, per_quadrant=1)
    try:
        at = AppTest.from_file(APP_FILE, default_timeout=60)
        at.run()
        at.file_uploader[0].set_value(("huge.png", _blank_png(5000, 4000), "image/png")).run()
        assert not at.exception, at.exception
        assert any("megapixel limit" in e.value for e in at.error)
        assert at.metric[0].value == "—"  # the mood is unchanged
    finally:
        cleanup_engines()


def _print_figures() -> None:
    """`python tests/test_input_bombs.py`: each bomb's peak-RSS growth with its bound and without."""
    import tempfile

    tmp = Path(tempfile.mkdtemp())
    bomb, warm = tmp / "bomb.mp3", tmp / "warm.mp3"
    _id3_bomb_mp3(bomb)
    warm.write_bytes(audio_bytes("mp3", seconds=1.0))
    for bounded in (True, False):
        unbound = "" if bounded else "checks._bound_id3_inflate = lambda: None\n"
        script = (
            f"import app.library.checks as checks\n{unbound}checks.read_tags(sys.argv[2])\nbefore = peak()\n"
            "tags = checks.read_tags(sys.argv[1])\nprint(json.dumps({'tags': tags, 'grew_kb': peak() - before}))\n"
        )
        result = _peak_growth_kb(script, str(bomb), str(warm))
        print(
            f"ID3 bomb, {bomb.stat().st_size} B on disk, bounded={bounded}: peak RSS +{result['grew_kb'] / 1024:.1f} MB"
        )
    png = tmp / "bomb.png"
    png.write_bytes(_blank_png(7000, 7000))
    for checked in (True, False):
        unchecked = "" if checked else "mood.MAX_PICTURE_PIXELS = 10**12\n"
        script = (
            f"from pathlib import Path\nimport app.listening.mood as mood\n{unchecked}"
            "mood.decode_image(Path(sys.argv[2]).read_bytes())\n"
            "data = Path(sys.argv[1]).read_bytes()\nbefore = peak()\n"
            "try:\n    mood.decode_image(data)\nexcept mood.NotAnImage:\n    pass\n"
            "print(json.dumps({'grew_kb': peak() - before}))\n"
        )
        result = _peak_growth_kb(script, str(png), str(_small_png(tmp)))
        grew = result["grew_kb"] / 1024
        print(f"PNG bomb 7000x7000, {png.stat().st_size} B, checked={checked}: peak RSS +{grew:.1f} MB")


if __name__ == "__main__":
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    _print_figures()
