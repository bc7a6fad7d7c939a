"""Make docs/report.png, the README's picture: the verdict table and the GMACs figure of a real run's
report.html, as headless Chromium draws them.

    python scripts/readme_picture.py          # needs chromium (Debian: apt-get install -y chromium)

It runs docs/readme_picture.yaml with ``pacabench run`` (exact counts only, so the picture is the
same on every machine), takes the header, the verdict table and the first figure out of the run's
report.html (the page's own markup and style), screenshots them and trims the margin. Not part of
the tests: run it again when the report's look changes.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "docs" / "readme_picture.yaml"
PICTURE = ROOT / "docs" / "report.png"
WIDTH = 940


def _between(page: str, start: str, end: str) -> str:
    """The first piece of ``page`` from ``start`` to ``end`` inclusive."""
    match = re.search(re.escape(start) + ".*?" + re.escape(end), page, re.S)
    if match is None:
        sys.exit(f"report.html has no {start!r}; update scripts/readme_picture.py to the report's markup")
    return match.group(0)


def excerpt(page: str) -> str:
    """The report's header, verdict table and first figure, on one page styled as the report."""
    table = _between(page, '<table id="verdict-table">', "</table>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{_between(page, '<style>', '</style>')}"
            f"<style>body {{ width: {WIDTH}px; }} main {{ padding: 0 16px 8px; }}</style></head><body>"
            f"{_between(page, '<header>', '</header>')}<main>"
            f"<section><h2>Scaling verdicts</h2>{table}</section>"
            f"<section>{_between(page, '<figure>', '</figure>')}</section></main></body></html>")


def screenshot(html: Path, png: Path, profile: Path) -> None:
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    if browser is None:
        sys.exit("chromium not found; install it (apt-get install -y chromium)")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--no-first-run", f"--user-data-dir={profile}", f"--window-size={WIDTH},2400",
                    f"--screenshot={png}", html.as_uri()], check=True, capture_output=True, timeout=120)


def trimmed(png: Path) -> Image.Image:
    """The screenshot without the empty page below the content, in 256 colours (a small file)."""
    image = Image.open(png).convert("RGB")
    background = Image.new("RGB", image.size, image.getpixel((image.width - 1, image.height - 1)))
    box = ImageChops.difference(image, background).getbbox()
    return image.crop((0, 0, image.width, min(image.height, box[3] + 16))).quantize(colors=256)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "pacabench.cli", "run", str(SUITE), "--out", str(work / "run"),
                        "--quiet"], check=True)
        page = (work / "run" / "report.html").read_text(encoding="utf-8")
        (work / "excerpt.html").write_text(excerpt(page), encoding="utf-8")
        screenshot(work / "excerpt.html", work / "shot.png", work / "profile")
        trimmed(work / "shot.png").save(PICTURE, optimize=True)
    print(f"{PICTURE.relative_to(ROOT)}: {PICTURE.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
