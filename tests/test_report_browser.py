"""report.html in a real browser: headless Chromium renders the verdict table and every image.

Skipped where Chromium is missing (CI installs Debian's: apt-get install -y chromium).
"""
import json
import re
import shutil
import subprocess

import pytest

from pacabench.report.html import build_report
from synthetic_results import make_rows, write_run

CHROMIUM = next(filter(None, (shutil.which(b) for b in ("chromium", "chromium-browser"))), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install -y chromium)")

# Runs after load: reports what the page shows, into the DOM that --dump-dom prints.
CHECK = """<script>
window.addEventListener("load", () => {
  const shown = el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none"; };
  const imgs = [...document.images], table = document.getElementById("verdict-table");
  const out = document.createElement("pre");
  out.id = "pacabench-check";
  out.textContent = JSON.stringify({
    images: imgs.length, decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    visible: imgs.filter(shown).length, table: !!table && shown(table),
    rows: table ? table.querySelectorAll("tbody tr").length : 0});
  document.body.appendChild(out);
});
</script>"""


def chromium(tmp_path, *args):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    run = write_run(tmp_path_factory.mktemp("browser") / "run",
                    make_rows(operators=("paca", "swin", "vit"), resolutions=(224, 448, 896), oom=()))
    return build_report(run)


def test_verdict_table_and_every_image_render(page, tmp_path):
    html = page.read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", CHECK + "</body>"))
    result = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="pacabench-check">(.*?)</pre>', result.stdout)
    assert found, f"no check output from Chromium: {result.stderr[-500:]}"
    check = json.loads(found.group(1))
    expected_images = html.count("<img ")
    assert expected_images == 7  # against tokens: 4 metrics, time per token, GMAC/s; where the GMACs go
    assert check == {"images": expected_images, "decoded": expected_images, "visible": expected_images,
                     "table": True, "rows": 3}


def test_screenshot_is_not_blank(page, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    result = chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), result.stderr[-500:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2400)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # text, badges and plots, not an empty page
    assert image.getpixel((10, 10)) == (20, 33, 61)  # the report's header (#14213d) at the top
