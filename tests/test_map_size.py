"""City-scale maps: village and town outlines shared once per maps folder, page size and load time bounded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dgcoverage.outputs.maps import OUTLINES_JS, outlines_js

from ._browser import chromium_base

PAGE_BOUND = 3.0e6  # bytes per page on the whole embedded default (2.3 MB; 4.1 MB before the columnar page data)
INDEX_BOUND = 0.8e6  # the overview: towns per circle, village outlines once (0.35 MB; 2.8 MB before)
# The < 1 s target to interactive is measured by `make bench` (benchmarks/browser.py MAP_LOAD_MS), never by a timed
# test: a loaded CI machine would fail it. Here only a hang is caught.
HANG_MS = 20_000.0


@pytest.fixture(scope="module")
def demo_maps(tmp_path_factory):
    """The whole embedded default (609 villages, 4 circles) run with maps, through the CLI."""
    from dgcoverage.cli.main import main
    from dgcoverage.demo.synthetic import build_demo
    from dgcoverage.pipeline.load import load_study

    root = tmp_path_factory.mktemp("demo_maps")
    build_demo(root / "raw")
    assert main(["run", "--all", "--data-dir", str(root / "raw"), "--out", str(root / "out")]) == 0
    return load_study(data_dir=root / "raw"), root / "out" / "maps"


def _outlines(maps: Path) -> dict:
    txt = (maps / OUTLINES_JS).read_text(encoding="utf-8")
    m = re.fullmatch(r"/\*[^*]*\*/\nwindow\.DG_OUTLINES = (.*);\n", txt, re.S)
    assert m, txt[:200]
    return json.loads(m.group(1))


def _chromium(args: list[str], tmp_path: Path, virtual_time: bool = True) -> str:
    base = [
        *chromium_base(tmp_path),
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        *(["--virtual-time-budget=5000"] if virtual_time else []),
    ]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=300).stdout


def _counts(dom: str) -> dict[str, str]:
    m = re.search(r'<div id="dg-counts"[^>]*>', dom)
    assert m, "map script did not run"
    return dict(re.findall(r'data-([a-z_0-9]+)="([^"]*)"', m.group(0)))


def test_outlines_are_in_the_shared_file_once_and_not_in_the_pages(demo_maps):
    study, maps = demo_maps
    out = _outlines(maps)
    keys = [k for k, _ in out["villages"]]
    assert len(keys) == len(set(keys)) == int(study.villages["has_area"].sum())
    assert len(out["towns"]) == int(study.towns["has_polygon"].sum())
    code, geom = out["villages"][0]
    ring = json.dumps(geom["coordinates"][0] if geom["type"] == "Polygon" else geom["coordinates"][0][0])
    ring = ring.replace(" ", "")  # the pages' and the shared file's JSON have no spaces
    shared = (maps / OUTLINES_JS).read_text(encoding="utf-8")
    assert shared.count(ring) == 1
    pages = sorted(maps.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "fitness_15.html"}
    for p in pages:
        page = p.read_text(encoding="utf-8")
        assert ring not in page, p.name  # the outline's coordinates are not embedded
        assert f'"id":"{code}"' in page, p.name  # only its key, joined in the browser
        assert f'<script src="./{OUTLINES_JS}"></script>' in page
    # deterministic: written again from the same study it is the same text
    assert outlines_js(study) == shared


def test_pages_are_below_the_size_bound(demo_maps):
    _, maps = demo_maps
    sizes = {p.name: p.stat().st_size for p in maps.glob("*.html")}
    assert max(v for k, v in sizes.items() if k != "index.html") < PAGE_BOUND, sizes
    assert sizes["index.html"] < INDEX_BOUND, sizes
    assert (maps / OUTLINES_JS).stat().st_size < 1.5e6


def test_pages_load_from_file_with_the_shared_outlines(demo_maps, tmp_path):
    study, maps = demo_maps
    n_vill, n_towns = int(study.villages["has_area"].sum()), int(study.towns["has_polygon"].sum())
    a = _counts(_chromium(["--dump-dom", (maps / "fitness_15.html").resolve().as_uri() + "#dg-open"], tmp_path))
    assert a["ready"] == "1" and a["opened"] == "1" and "outlines" not in a
    assert int(a["villages"]) == n_vill and int(a["supply"]) == n_vill and int(a["towns"]) == n_towns
    idx = _counts(_chromium(["--dump-dom", (maps / "index.html").resolve().as_uri()], tmp_path))
    assert idx["ready"] == "1" and int(idx["villages"]) == n_vill and int(idx["towns_fitness_15"]) == n_towns
    assert idx["circle"] == "elderly_care_15"  # the first circle is shown, the others wait for the radio


def test_page_without_or_with_other_outlines_says_so(demo_maps, tmp_path):
    _, maps = demo_maps
    alone = tmp_path / "alone.html"
    shutil.copy(maps / "fitness_15.html", alone)
    dom = _chromium(["--dump-dom", alone.resolve().as_uri()], tmp_path)
    a = _counts(dom)
    assert a["ready"] == "1" and a["outlines"] == "missing" and a["villages"] == "0"
    assert int(a["facilities"]) > 0 and "outlines.js" in dom
    # outlines of other inputs (here: one village less) are noticed and said, the rest still drawn
    other = _outlines(maps)
    other["villages"] = other["villages"][1:]
    (tmp_path / OUTLINES_JS).write_text(f"window.DG_OUTLINES = {json.dumps(other)};\n", encoding="utf-8")
    a = _counts(_chromium(["--dump-dom", alone.resolve().as_uri()], tmp_path))
    assert a["ready"] == "1" and a["outlines"] == "mismatch"
    assert int(a["villages"]) == len(other["villages"])


def test_pages_reach_their_load_event(demo_maps, tmp_path):
    """The largest circle page and the overview draw every layer and fire the load event (no virtual time)."""
    _, maps = demo_maps
    hook = (
        "<script>window.addEventListener('load',function(){"
        "document.body.setAttribute('data-ms',String(performance.now()));});</script></body>"
    )
    best = {}
    for name in ("culture_sports_10.html", "index.html"):  # the largest circle page and the overview
        probe = maps / f"probe_{name}"  # beside outlines.js
        probe.write_text((maps / name).read_text(encoding="utf-8").replace("</body>", hook), encoding="utf-8")
        dom = _chromium(["--dump-dom", probe.resolve().as_uri()], tmp_path, virtual_time=False)
        probe.unlink()
        assert _counts(dom)["ready"] == "1"
        best[name] = float(re.search(r'data-ms="([0-9.]+)"', dom).group(1))
    assert max(best.values()) < HANG_MS, best
