#!/usr/bin/env python
"""Benchmark dgcoverage on a Dongguan-scale synthetic city against the floor and the usual recipes.

    .venv/bin/python scripts/benchmark.py       # full run (scale 3 city, ~550k nodes), rewrites docs/benchmarks.md
    .venv/bin/python scripts/benchmark.py --quick # two towns, a few thousand nodes: the CI smoke test
    make bench                                  # installs .[bench] (pandana) and runs the full benchmark
    .venv/bin/python scripts/benchmark.py --only province   # one section (benchmarks/sections.py) and its block
    make bench-province                         # the same: the SYNTHETIC province on 1 and 2 Dask workers

The steps, checks and the text of docs/benchmarks.md are in the ``benchmarks`` package (entry:
``benchmarks/bench.py``); this script parses the options, prints the progress and the results, and writes the
page and the raw results (JSON).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import bench, sections  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two towns at scale 1 (smoke test, ~1 min)")
    ap.add_argument("--scale", type=float, help="city scale for the main run (default 3; quick: 1)")
    ap.add_argument("--sizes", help="comma-separated scales for the growth table (default 1,2,3,4; quick: 0.5,1)")
    ap.add_argument(
        "--work", type=Path, default=Path("/tmp/dgcoverage-bench"), help="work folder (cities are cached here)"
    )
    ap.add_argument("--doc", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md")
    ap.add_argument("--json", type=Path, help="also write the raw results here (default: <work>/results.json)")
    ap.add_argument(
        "--nx-budget",
        type=float,
        default=600.0,
        help="seconds for the networkx ego-graph recipe over all circles before subsampling (default 600)",
    )
    ap.add_argument(
        "--pandana-timeout",
        type=float,
        default=900.0,
        help="stop the pandana step after this many seconds (its contraction-hierarchy build is slow)",
    )
    ap.add_argument(
        "--full-timeout",
        type=float,
        default=1200.0,
        help="stop one `run --all` with maps and report after this many seconds (default 1200)",
    )
    ap.add_argument(
        "--skip",
        default="",
        help="comma-separated steps to skip: networkx,pandana,siting,pbf,full,map_load,raster,pbf_clip,scaling "
        "(full: run --all with maps and report at every scale; map_load: page load in headless Chromium; "
        "raster: China-size GeoTIFF; pbf_clip: ten-city .osm.pbf clipped)",
    )
    ap.add_argument("--from-json", type=Path, help="only re-render the doc from an earlier results.json")
    known = sections.sections()
    ap.add_argument(
        "--only",
        metavar="NAMES",
        help="run only these sections (comma-separated: "
        + ", ".join(f"{k}: {v.help}" for k, v in known.items())
        + ") and rewrite only their blocks of the doc; with --from-json FILE, re-render one section from FILE (its "
        "<work>/section-NAME.json; several sections: from theirs)",
    )
    for sec in known.values():
        if sec.add_options is not None:
            sec.add_options(ap)
    args = ap.parse_args(argv)
    if args.only:
        return _only(args, known)
    if args.from_json:
        R = json.loads(args.from_json.read_text(encoding="utf-8"))
        R["targets"] = bench.targets(R)
        text = bench.render(R)
        if args.doc.exists():  # keep the blocks of the separately run sections
            text = sections.carry_over(args.doc.read_text(encoding="utf-8"), text)
        args.doc.write_text(text, encoding="utf-8")
        print(f"[benchmark] re-rendered {args.doc} from {args.from_json}")
        return 0
    progress = logging.StreamHandler(sys.stdout)  # the library logs its progress; print it as it comes
    progress.setFormatter(logging.Formatter("%(message)s"))
    bench.log.addHandler(progress)
    bench.log.setLevel(logging.INFO)
    words = " ".join(argv if argv is not None else sys.argv[1:])
    R = bench.run_benchmark(
        args.work,
        quick=args.quick,
        scale=args.scale,
        sizes=[float(x) for x in args.sizes.split(",") if x] if args.sizes else None,
        nx_budget=args.nx_budget,
        pandana_timeout=args.pandana_timeout,
        full_timeout=args.full_timeout,
        skip={s.strip() for s in args.skip.split(",") if s.strip()},
        command=("python scripts/benchmark.py " + words).rstrip(),
    )
    text = bench.render(R)
    if args.doc.exists():  # keep the blocks of the sections this run did not measure (--only NAME writes them)
        text = sections.carry_over(args.doc.read_text(encoding="utf-8"), text)
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(text, encoding="utf-8")
    js = args.json or args.work / "results.json"
    js.write_text(json.dumps(R, indent=1, default=float), encoding="utf-8")
    print(text.split("## Method notes")[0])
    print(f"[benchmark] agreement: {R['agreement']}")
    print(f"[benchmark] wrote {args.doc} and {js}")
    return 0 if all(R["agreement"].values()) else 1


def _only(args: argparse.Namespace, known: dict[str, sections.Section]) -> int:
    """Run (or re-render from JSON) only the named sections; rewrite only their blocks of the doc."""
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"[benchmark] unknown section(s) {unknown}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    progress = logging.StreamHandler(sys.stdout)
    progress.setFormatter(logging.Formatter("%(message)s"))
    bench.log.addHandler(progress)
    bench.log.setLevel(logging.INFO)
    args.work.mkdir(parents=True, exist_ok=True)
    text = args.doc.read_text(encoding="utf-8") if args.doc.exists() else "# Benchmarks\n"
    for name in names:
        js = args.work / f"section-{name}.json"
        if args.from_json:
            src = args.from_json if len(names) == 1 else js
            result = json.loads(src.read_text(encoding="utf-8"))
        else:
            result = known[name].run(args.work, args)
            js.write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")
        body = known[name].render(result)
        text = sections.replace(text, name, body, before="## Method notes")
        print(body)
        print(f"[benchmark] section {name}: results in {js}")
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(text, encoding="utf-8")
    print(f"[benchmark] rewrote the section(s) {', '.join(names)} of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
