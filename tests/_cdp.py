"""Headless Chromium driven over the DevTools protocol (``--remote-debugging-pipe``), standard library only.

The page tests that need real clicks, console errors, failed requests and print-to-PDF use :class:`Page`:
the network is blocked (host resolver and a dead proxy; ``file://`` pages only), and every console error,
uncaught exception and failed request is collected in :meth:`Page.problems`.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from ._browser import chromium_base

BLOCK = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


class Page:
    """One Chromium with one tab of ``width`` x ``height`` CSS pixels; use as a context manager."""

    def __init__(self, tmp_path: Path, width: int = 1366, height: int = 768) -> None:
        r1, w1 = os.pipe()  # we write -> Chromium's fd 3
        r2, w2 = os.pipe()  # Chromium's fd 4 -> we read

        def fds() -> None:
            a, b = os.dup(r1), os.dup(w2)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [*chromium_base(tmp_path), *BLOCK, "--remote-debugging-pipe", f"--window-size={width},{height}"]
        self.proc = subprocess.Popen(
            [*args, "about:blank"],
            pass_fds=(3, 4, r1, w2),
            preexec_fn=fds,  # noqa: PLW1509 - the pipe must be fd 3 and 4 in the child
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(r1)
        os.close(w2)
        self.wfd, self.rfd = w1, r2
        self.buf, self.n, self.events, self.size, self.session = b"", 0, [], (width, height), None

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call("Browser.close", session=False)
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.wfd)
        os.close(self.rfd)

    def _read(self, timeout: float = 30.0) -> dict:
        t0 = time.monotonic()
        while b"\0" not in self.buf:
            if not select.select([self.rfd], [], [], max(timeout - (time.monotonic() - t0), 0))[0]:
                raise TimeoutError("no message from Chromium")
            chunk = os.read(self.rfd, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        """Send one command and return its result (events that come first are kept)."""
        self.n += 1
        msg: dict[str, Any] = {"id": self.n, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self.n:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def open(self, page: Path) -> Page:
        """Load ``page`` (a file) and wait for its load event."""
        t = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        self.session = self.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True}, False)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(f"{domain}.enable")
        w, h = self.size
        metrics = {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)
        self.call("Page.navigate", {"url": Path(page).resolve().as_uri()})
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read())
        time.sleep(0.3)
        return self

    def js(self, expr: str) -> Any:
        """Evaluate ``expr`` in the page; its value (JSON), or the page's exception raised."""
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise AssertionError(json.dumps(r["exceptionDetails"])[:2000])
        return r["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A real mouse click at page coordinates (CSS pixels)."""
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})
        time.sleep(0.2)

    def problems(self) -> list[tuple[str, str]]:
        """Console errors and warnings, uncaught exceptions and failed requests seen so far."""
        while select.select([self.rfd], [], [], 0.05)[0] or b"\0" in self.buf:
            self.events.append(self._read())
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(("exception", d.get("exception", {}).get("description", d.get("text", ""))))
            elif m == "Runtime.consoleAPICalled" and p["type"] in ("error", "warning", "assert"):
                out.append((p["type"], " ".join(str(a.get("value", a.get("description"))) for a in p["args"])))
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(("log", f"{p['entry']['text']} {p['entry'].get('url', '')}"))
            elif m == "Network.loadingFailed":
                out.append(("failed", str(p.get("errorText"))))
        return out

    def pdf(self, path: Path) -> Path:
        """Print to ``path`` (the page's own @page size; backgrounds)."""
        r = self.call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True})
        Path(path).write_bytes(base64.b64decode(r["data"]))
        return Path(path)
