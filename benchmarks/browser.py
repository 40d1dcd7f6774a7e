"""Map pages in headless Chromium: time from navigation start to the load event (the page size bound too)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

MAP_PAGE_MB = 5.0  # bound per map page (MB = 1e6 bytes)
MAP_LOAD_MS = 1000.0  # bound from navigation start to the load event, headless Chromium
#: Flags of every headless Chromium run (the tests use them too).
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
)
CHROMIUM_FLAGS = (
    *HEADLESS_FLAGS,
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: tile servers fail fast instead of waiting
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)


def _chromium() -> str | None:
    import shutil

    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def step_map_load(maps: str, repeat: int = 3) -> dict[str, Any]:
    """Time each map page from navigation start to its load event in headless Chromium (file://, offline).

    Each page is copied beside itself (so it finds the shared files) with a script that writes
    ``performance.now()`` at the load event into the DOM, which ``--dump-dom`` prints; the page's inline map
    script has drawn every layer by then.  Best of ``repeat`` runs per page.

    Parameters
    ----------
    maps
        The maps folder written by :func:`step_full`.
    repeat
        Runs per page (a fresh browser each).

    Returns
    -------
    dict
        ``available`` (False, with ``note``, when no Chromium is installed), ``pages`` (per page: ``ms`` best,
        ``runs``, ``ready`` — the page's own ``dg-counts`` marker says its script finished; ``None`` when the
        page has no marker), ``time_s`` (the slowest page's best, seconds) and ``browser``.
    """
    import re

    exe = _chromium()
    if exe is None:
        return {"available": False, "time_s": float("nan"), "note": "no Chromium found (chromium, google-chrome)"}
    hook = (
        "<script>window.addEventListener('load',function(){"
        "document.body.setAttribute('data-bench-ms',String(performance.now()));});</script></body>"
    )
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    maps_p = Path(maps)
    pages: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dgcoverage-bench-chromium-") as prof:
        for page in sorted(maps_p.glob("*.html")):
            probe = maps_p / f"_bench_probe_{page.name}"
            probe.write_text(page.read_text(encoding="utf-8").replace("</body>", hook, 1), encoding="utf-8")
            runs, ready = [], None
            try:
                for _ in range(max(repeat, 1)):
                    dom = subprocess.run(
                        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={prof}", "--dump-dom", probe.resolve().as_uri()],
                        capture_output=True,
                        text=True,
                        timeout=120,
                    ).stdout
                    m = re.search(r'data-bench-ms="([0-9.]+)"', dom)
                    runs.append(float(m.group(1)) if m else float("nan"))
                    counts = re.search(r'<div id="dg-counts"[^>]*>', dom)
                    if counts:
                        ready = 'data-ready="1"' in counts.group(0)
            finally:
                probe.unlink(missing_ok=True)
            ok = [r for r in runs if np.isfinite(r)]
            pages[page.name] = {"ms": min(ok) if ok else float("nan"), "runs": runs, "ready": ready}
    worst = max((p["ms"] for p in pages.values()), default=float("nan"))
    return {"available": True, "browser": version, "pages": pages, "time_s": worst / 1000.0, "repeat": repeat}
