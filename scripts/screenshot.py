"""Screenshot of a sync in the Prefect UI, the flow run with its artifacts, for the README.

    .venv/bin/python scripts/screenshot.py
    .venv/bin/python scripts/screenshot.py --out docs/flow-run.png --chromium /usr/bin/chromium

Needs Debian's chromium package (`apt-get install chromium`). Starts `prefect server start`
on a free port with a temporary PREFECT_HOME, runs `python -m pipelines run` on data/samples
into a temporary drop and state against it, finds the flow run over the REST API, and has
headless Chromium save one picture: the run's page on its Artifacts tab, and below it the
`sluis-deliveries` table artifact, whose rows the run page itself does not show. The server
is stopped at the end, also on an error. The samples are synthetic, and the picture holds
only what Sluis puts in Prefect: task names with BRIN codes, counts, reason codes and
drop paths.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data" / "samples"

# Picture width: wide enough for the count columns of the deliveries table beside the
# artifact's details panel (the drop location after them is cut off). The Prefect UI's
# sidebar is 16rem (256 px) wide.
WIDTH = 1700
SIDEBAR = 256
# Heights of the two parts: the run page down to its artifact cards, the table page down to
# its pager. Eight rows: two sample schools times four suppliers.
RUN_HEIGHT = 820
TABLE_HEIGHT = 642

# Two iframes on one page, so one headless screenshot holds both. The table page is shifted
# left by the sidebar's width so its content lines up under the run page, and a plain column
# continues the run page's sidebar (white, with the UI's border) below it. A line above the
# table says it is a second page, not the run page scrolled down.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sluis in Prefect</title><style>
html, body {{ margin: 0; background: #eaeaeb; width: {width}px; overflow: hidden; }}
iframe {{ display: block; border: 0; }}
.row {{ display: flex; }}
.sidebar {{ width: {sidebar_inner}px; background: #fff; border-right: 1px solid #d6d7db; }}
.clip {{ overflow: hidden; width: {main}px; height: {table_height}px;
         border-top: 1px solid #bbbec9; box-sizing: border-box; }}
.clip iframe {{ margin-left: -{sidebar}px; }}
</style></head><body>
<iframe src="{run_url}" width="{width}" height="{run_height}" scrolling="no"></iframe>
<div class="row"><div class="sidebar"></div><div class="clip">
<iframe src="{table_url}" width="{width}" height="{table_height}" scrolling="no"></iframe>
</div></div>
</body></html>
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prefect_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for Prefect: its own PREFECT_HOME, no telemetry, nothing inherited."""
    env = {
        key: value
        for key, value in os.environ.items()
        # A PREFECT_API_URL or profile from the shell would send the run elsewhere.
        if not key.startswith(("PREFECT_", "SLUIS_"))
    }
    env.update(
        PREFECT_HOME=str(home),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        **extra,
    )
    return env


def api(url: str, body: dict[str, Any] | None = None) -> Any:
    """GET, or POST `body` as JSON, to the Prefect API and return the decoded answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1
        url, data=data, headers={"Content-Type": "application/json"}
    )
    for attempt in range(8):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as exc:
            # On SQLite, Prefect's server answers 503 while its database is busy and
            # expects the client to retry, as Prefect's own client does.
            if exc.code not in (429, 502, 503) or attempt == 7:
                raise
            time.sleep(min(0.25 * 2**attempt, 5))
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def running_server(home: Path, log: Path) -> Iterator[tuple[str, str]]:
    """A `prefect server start` on a free port; yields (UI URL, API URL), always stops it."""
    port = free_port()
    ui_url = f"http://127.0.0.1:{port}"
    api_url = f"{ui_url}/api"
    prefect = Path(sys.executable).with_name("prefect")
    with log.open("ab") as out:
        server = subprocess.Popen(
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            # Without it the UI calls the API on the default port 4200, not on this one.
            env=prefect_env(home, PREFECT_SERVER_UI_API_URL=api_url),
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"prefect server exited with {server.returncode}; see {log}")
            try:
                if api(f"{api_url}/health") is True:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server not healthy after 180 s; see {log}")
            time.sleep(0.5)
        yield ui_url, api_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves a folder without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing: Chromium's requests are not news."""


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """Serve `folder` over http on 127.0.0.1; yields its URL.

    Chromium leaves iframes on a file:// page blank, so the page with both views is served.
    """
    handler = functools.partial(QuietHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def sync_samples(api_url: str, scratch: Path) -> None:
    """Run `sluis run` on the samples against the server, into a scratch drop and state."""
    command = [sys.executable, "-m", "pipelines", "run", "--source", str(SAMPLES)]
    command += ["--drop", str(scratch / "drop"), "--state", str(scratch / "state")]
    log = scratch / "sync.log"
    with log.open("ab") as out:
        # cwd outside the repository: a developer's .env must not change the run.
        result = subprocess.run(
            command,
            env=prefect_env(scratch / "prefect-client", PREFECT_API_URL=api_url),
            cwd=scratch,
            stdout=out,
            stderr=out,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"sluis run exited {result.returncode}; see {log}")


def find_run(api_url: str) -> tuple[str, str]:
    """The id of the newest `sync` flow run and of its `sluis-deliveries` artifact."""
    runs = api(
        f"{api_url}/flow_runs/filter",
        {"flows": {"name": {"any_": ["sync"]}}, "sort": "START_TIME_DESC", "limit": 1},
    )
    if not runs:
        raise RuntimeError("the server holds no run of the sync flow")
    run_id = str(runs[0]["id"])
    artifacts = api(
        f"{api_url}/artifacts/filter",
        {"artifacts": {"key": {"any_": ["sluis-deliveries"]}, "flow_run_id": {"any_": [run_id]}}},
    )
    if not artifacts:
        raise RuntimeError(f"flow run {run_id} has no sluis-deliveries artifact")
    return run_id, str(artifacts[0]["id"])


def chromium(binary: str, profile: Path, *arguments: str) -> str:
    """Run headless Chromium once with a throw-away profile and return what it printed."""
    command = [
        binary,
        "--headless=new",
        # Running as root in a container: Chromium's sandbox needs user namespaces.
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        # Virtual time lets the single-page app fetch and render before the capture,
        # without a fixed sleep.
        "--virtual-time-budget=15000",
        *arguments,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited {result.returncode}: {result.stderr[-1500:]}")
    return result.stdout


def check_rendered(binary: str, profile: Path, run_url: str, table_url: str) -> None:
    """Fail when the UI no longer shows what the picture is for (a changed route or tab)."""
    run_dom = chromium(binary, profile, "--dump-dom", run_url)
    missing = [key for key in ("sluis-deliveries", "sluis-quarantine") if key not in run_dom]
    if missing:
        raise RuntimeError(f"the run page shows no artifact {', '.join(missing)}: {run_url}")
    table_dom = chromium(binary, profile, "--dump-dom", table_url)
    if "delivered" not in table_dom or "withheld" not in table_dom:
        raise RuntimeError(f"the artifact page shows no deliveries table: {table_url}")


def main() -> None:
    """Start a server, sync the samples, save the picture, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "flow-run.png")
    parser.add_argument("--chromium", help="Chromium binary (default: chromium on PATH)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and logs")
    args = parser.parse_args()

    # Checked before the server's half-minute start, not after it.
    binary = shutil.which(args.chromium or "chromium") or shutil.which("chromium-browser")
    if args.chromium and not shutil.which(args.chromium):
        parser.error(f"--chromium {args.chromium}: not an executable")
    if not binary:
        parser.error("chromium not found: apt-get install chromium, or pass --chromium PATH")
    scratch = Path(tempfile.mkdtemp(prefix="sluis-screenshot-"))
    try:
        with running_server(scratch / "prefect-server", scratch / "server.log") as (ui, api_url):
            sync_samples(api_url, scratch)
            run_id, artifact_id = find_run(api_url)
            # The v2 UI: its run page keeps ?tab= (the v1 UI falls back to Logs).
            run_url = f"{ui}/v2/runs/flow-run/{run_id}?tab=Artifacts"
            table_url = f"{ui}/v2/artifacts/artifact/{artifact_id}"
            profile = scratch / "chromium"
            check_rendered(binary, profile, run_url, table_url)
            page = scratch / "page"
            page.mkdir()
            (page / "index.html").write_text(
                PAGE.format(
                    width=WIDTH,
                    sidebar=SIDEBAR,
                    sidebar_inner=SIDEBAR - 1,
                    main=WIDTH - SIDEBAR,
                    run_height=RUN_HEIGHT,
                    table_height=TABLE_HEIGHT,
                    run_url=run_url,
                    table_url=table_url,
                ),
                "utf-8",
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with serving(page) as page_url:
                chromium(
                    binary,
                    profile,
                    f"--window-size={WIDTH},{RUN_HEIGHT + TABLE_HEIGHT}",
                    f"--screenshot={args.out.resolve()}",
                    f"{page_url}/index.html",
                )
        print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB), flow run {run_id}")
    finally:
        if args.keep:
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
