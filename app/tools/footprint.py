"""What a deployment costs before it serves anyone (`bench --only deploy`): the size on disk of
what `requirements.txt` installs, and the memory a fresh process takes to import the app's pages
and the media store's S3 client. Measured in this environment's site-packages."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from app.config import REPO_ROOT

RUNTIME_REQUIREMENTS = REPO_ROOT / "requirements.txt"


def _names(requirements: Path) -> list[str]:
    names = []
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(re.split(r"[\s=<>!~;\[]", line, maxsplit=1)[0])
    return names


def _closure(names: list[str]) -> set[str]:
    """The distributions `names` install, their dependencies included (markers for this
    interpreter, extras left out), by normalised name."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for raw in dist.requires or ():
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def install_size_mb(requirements: Path = RUNTIME_REQUIREMENTS) -> float:
    """MB on disk of the distributions `requirements` installs (as installed here)."""
    total = 0
    for name in _closure(_names(requirements)):
        for file in metadata.distribution(name).files or ():
            path = Path(file.locate())
            if path.is_file():
                total += path.stat().st_size
    return round(total / 1e6, 1)


_RSS_AFTER = """
import importlib, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
base = rss()
for name in sys.argv[1:]:
    importlib.import_module(name)
print(rss() - base)
"""


def import_rss_mb(*modules: str) -> float:
    """MB a fresh interpreter's resident memory grows by importing `modules`."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS_AFTER, *modules], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return round(float(done.stdout.strip().splitlines()[-1]), 1)


def footprint(page_modules: tuple[str, ...]) -> dict:
    """The figures, `page_modules` being what the server process imports to serve the pages."""
    return {
        "install_size_mb": install_size_mb(),
        "app_import_rss_mb": import_rss_mb(*page_modules),
        "media_client_import_mb": import_rss_mb("obstore", "obstore.store"),  # the S3 client (app.catalog.media)
    }
