"""Screenshots of the pages for parents (inzage, data map) on a phone, for the README.

    .venv/bin/python scripts/page_screenshots.py
    .venv/bin/python scripts/page_screenshots.py --out docs/img --chromium /usr/bin/chromium

Runs `sluis run` on data/samples into a temporary drop and state, writes the inzage of one
sample pupil (with today's values from the export) and the data map of school 27ZX, and
has Debian's chromium (through Playwright) save each page at 375 px wide, the whole page
long: docs/img/inzage.png and docs/img/datamap.png. The samples are synthetic: no real
child is on the pictures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "samples"
# The sample schools' names, as their EDEXML comments give them (an export names none).
NAMES = {"27ZX": "RKBS de Flint", "53NC": "PCB de Zandloper"}
PUPIL = "257899"
PHONE = {"width": 375, "height": 812}


def sluis(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=REPO, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUIS_", "PREFECT_"))}
        env.update(
            PREFECT_HOME=str(root / "prefect"),
            SLUIS_STATE_DIR=str(root / "state"),
            SLUIS_SCHOOL_NAMES=json.dumps(NAMES),
        )
        (root / "drop").mkdir()
        sluis(env, "run", "--source", str(SAMPLES), "--drop", str(root / "drop"),
              "--state", str(root / "state"))  # fmt: skip
        pages = root / "pages"
        sluis(env, "inzage", PUPIL, "--school", "27ZX", "--source", str(SAMPLES / "27ZX"),
              "--out", str(pages))  # fmt: skip
        sluis(env, "datamap", "--school", "27ZX", "--out", str(pages))
        options.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=options.chromium, args=["--no-sandbox"]
            )
            for name, page_file in (
                ("inzage", pages / f"inzage-{PUPIL}.html"),
                ("datamap", pages / "datamap.html"),
            ):
                page = browser.new_page(viewport=PHONE, device_scale_factor=1)
                page.goto(page_file.as_uri())
                target = options.out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True)
                page.close()
                print(f"{target}")
            browser.close()


if __name__ == "__main__":
    main()
