"""Property (issue 19, part 6): the damage invariant extended to the inputs added since issue 10.

"Refused (a :class:`~dgcoverage.errors.DgCoverageError`), or the same figures, or a counted warning": never a
silently changed figure.  Three properties on the small city (``small_city``), each with few examples:

1. **Capacity headers with units in every position** (brackets, full-width brackets, after a space, a colon or a
   slash (full-width too), a unit row under the header, ``capacity_unit`` in the config, ``capacity_column`` +
   ``capacity_unit``, a header with no unit at all, unknown unit words), the clean capacities re-expressed in
   that unit, CSV or XLSX.  Each facility's capacity must equal the correctly converted figure (the test's own
   factor table, not the library's), or be unknown (NaN) with a counted capacity warning, or the run is refused;
   when every capacity is right the supply figures (city and towns) equal the clean run's.
2. **Candidate tables** (``build_candidates`` + ``plan_sites``): the datum declared in the header, by the option,
   or not at all (WGS84, GCJ-02 or BD-09 values), coordinates re-spelt or swapped, capacity headers as in 1.  The
   ranked sites (name, node, new people, size) must equal the clean file's, or the run is refused, or a
   :class:`~dgcoverage.errors.DgCoverageWarning` is raised (the CLI records those).
3. **Config values in wrong units** (speed x3.6, /3.6, x60; minutes x60; supply_target x1000; max_snap_m /1000):
   refused with a ``ConfigError`` naming the key, or, when ``allow_unusual_settings = true`` is present, taken
   as written.
"""

from __future__ import annotations

import dataclasses
import io
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from dgcoverage.errors import ConfigError, DgCoverageError, DgCoverageWarning
from dgcoverage.inputs.config import Settings, load_config
from dgcoverage.inputs.coords import wgs84_to_bd09, wgs84_to_gcj02
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study
from dgcoverage.pipeline.run import run_circle
from dgcoverage.pipeline.sites import build_candidates, plan_sites

from .test_damage_properties import _clean_doc, _n, _toml, _write_config

HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
PROJECT = Settings(default_point_crs="gcj02")  # the demo's tables are GCJ-02 (as in test_damage_properties)
NO_DEFAULT = Settings()  # candidates: no project default, so an undeclared datum must be refused

#: The test's own unit table: (word, kind, factor to m² or beds).  None: a word no reader should know.
UNITS = (
    ("平方米", "area_m2", 1.0),
    ("㎡", "area_m2", 1.0),
    ("m2", "area_m2", 1.0),
    ("公顷", "area_m2", 1e4),
    ("ha", "area_m2", 1e4),
    ("亩", "area_m2", 10_000 / 15),
    ("万平方米", "area_m2", 1e4),
    ("平方公里", "area_m2", 1e6),
    ("km²", "area_m2", 1e6),
    ("英里", "area_m2", None),
    ("furlong", "area_m2", None),
    ("丈", "area_m2", None),
    ("张", "beds", 1.0),
    ("床位", "beds", 1.0),
    ("beds", "beds", 1.0),
)
POSITIONS = (
    "bracket",
    "fw_bracket",
    "space",
    "colon",
    "fw_colon",
    "slash",
    "fw_slash",
    "unit_row",
    "config_unit",
    "config_column",
    "config_column_header_unit",
    "none",
)
CAP_CIRCLES = {"fitness_15": "场地面积", "culture_sports_10": "建筑面积", "elderly_care_15": "床位数"}
CAP_HEADERS = {
    "fitness_15": "场地面积(平方米)",
    "culture_sports_10": "建筑面积(平方米)",
    "elderly_care_15": "床位数(张)",
}
FMT = st.sampled_from(["csv", "xlsx"])


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def _header(base: str, unit: str, position: str) -> tuple[str, str | None, str | None, str | None]:
    """Return (header, unit-row cell, config capacity_column, config capacity_unit) for a unit at a position."""
    return {
        "bracket": (f"{base}({unit})", None, None, None),
        "fw_bracket": (f"{base}（{unit}）", None, None, None),
        "space": (f"{base} {unit}", None, None, None),
        "colon": (f"{base}:{unit}", None, None, None),
        "fw_colon": (f"{base}：{unit}", None, None, None),
        "slash": (f"{base}/{unit}", None, None, None),
        "fw_slash": (f"{base}／{unit}", None, None, None),
        "unit_row": (base, unit, None, None),
        "config_unit": (base, None, None, unit),
        "config_column": ("规模", None, "规模", unit),
        "config_column_header_unit": (f"规模({unit})", None, f"规模({unit})", None),
        "none": (base, None, None, None),
    }[position]


def _units(kind: str) -> list[tuple]:
    """The units of one kind (a circle's capacity), in :data:`UNITS` order."""
    return [u for u in UNITS if u[1] == kind]


def _number(m2: float, factor: float | None) -> str:
    """The clean figure re-expressed in the unit (an unknown unit: the hectare figure, a plausible mistake)."""
    if math.isnan(m2):
        return ""
    v = m2 / (factor or 1e4)
    return repr(int(v)) if v == int(v) else repr(v)


def _write(path: Path, header: list[str], rows: list[list[str]], fmt: str, unit_row: list[str] | None) -> Path:
    table = [header, *([unit_row] if unit_row else []), *rows]
    if fmt == "csv":
        p = path.with_suffix(".csv")
        buf = io.StringIO()
        pd.DataFrame(table).to_csv(buf, header=False, index=False, lineterminator="\n")
        p.write_text(buf.getvalue(), encoding="utf-8-sig")
        return p
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for i, row in enumerate(table):
        cells = []
        for v in row:
            try:
                cells.append(float(v) if i and v and not v.startswith("0") else v)
            except ValueError:
                cells.append(v)
        ws.append(cells)
    p = path.with_suffix(".xlsx")
    wb.save(p)
    return p


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


class Env:
    """The study loaded once and the clean runs (not a dataclass: hypothesis would print the whole study)."""

    def __init__(self, root: Path, out: Path) -> None:
        self.root, self.out = root, out
        self.circles, _ = load_config()
        self.study = _quiet(load_study, data_dir=root, settings=PROJECT)
        self.clean: dict = {}
        self.k = 0

    def __repr__(self) -> str:
        return f"Env({self.root})"

    def path(self, stem: str) -> Path:
        self.k += 1
        return self.out / f"{stem}{self.k}"

    def clean_run(self, cid: str):
        if cid not in self.clean:
            circle = self.circles[cid]
            fac = _quiet(load_facilities, self.study, circle, self.root / "facilities" / f"{cid}_gcj02.csv")
            self.clean[cid] = (fac, _quiet(run_circle, self.study, circle, fac))
        return self.clean[cid]


@pytest.fixture(scope="module")
def env(small_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Env:
    return Env(small_city, tmp_path_factory.mktemp("damage19"))


# ============================================================ 1. capacity headers with units


def supply_figures(res) -> dict:
    s = res.summary["supply"]
    towns = res.towns
    cols = [c for c in towns.columns if str(c).split(" ")[0] in ("supply", "deficit", "supply_status")]
    return {"city": s["city"], "towns": towns[cols].to_dict("list") if cols else {}}


def _damage_capacity(e: Env, cid: str, unit_i: int, position: str, fmt: str, *, drop_unit: bool = False) -> str:
    circle = e.circles[cid]
    unit, _, factor = _units(circle.capacity)[unit_i % len(_units(circle.capacity))]
    clean_fac, clean_res = e.clean_run(cid)
    text = (e.root / "facilities" / f"{cid}_gcj02.csv").read_text(encoding="utf-8-sig")
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    col = CAP_HEADERS[cid]
    m2 = [float(v) if v.strip() else math.nan for v in df[col]]
    header, unit_cell, cfg_col, cfg_unit = _header(CAP_CIRCLES[cid], unit, position)
    df[col] = [_number(v, factor) for v in m2]
    df = df.rename(columns={col: header})
    unit_row = [unit_cell if c == header else "" for c in df.columns] if unit_cell else None
    path = _write(e.path(cid), list(df.columns), df.to_numpy().tolist(), fmt, unit_row)
    damaged = dataclasses.replace(
        circle,
        capacity_column=cfg_col if cfg_col is not None else circle.capacity_column,
        capacity_unit=cfg_unit if cfg_unit is not None else circle.capacity_unit,
    )
    what = f"{cid}: {header!r} unit row {unit_cell!r} capacity_column={cfg_col!r} capacity_unit={cfg_unit!r} {fmt}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fac = load_facilities(e.study, damaged, path)
            if drop_unit:  # seen-to-fail switch: a reader that drops the unit (hectares read as m²)
                fac["capacity"] = [float(v) if v else math.nan for v in df[header]]
            res = run_circle(e.study, damaged, fac)
    except DgCoverageError as exc:
        assert str(exc).strip(), f"refused without a message: {what}"
        return "refused"
    # the clean facilities in file order: the reader keeps the order and drops none here
    assert fac["facility_id"].tolist() == clean_fac["facility_id"].tolist(), what
    expected = clean_fac["capacity"].to_numpy(float)
    got = fac["capacity"].to_numpy(float)
    wrong = [(i, g, x) for i, (g, x) in enumerate(zip(got, expected)) if not _close(g, x) and not np.isnan(g)]
    assert not wrong, f"capacities changed (not unknown): {what}\n  (row, read, right) {wrong[:5]}"
    unknown = [i for i, (g, x) in enumerate(zip(got, expected)) if np.isnan(g) and not np.isnan(x)]
    if unknown:
        base = clean_res.summary["warnings"]
        mine = {**fac.attrs.get("warnings", {}), **res.summary["warnings"]}
        new = {k: v for k, v in mine.items() if "capacity" in k and isinstance(v, (int, float)) and v > base.get(k, 0)}
        assert new, f"{len(unknown)} capacities became unknown with no counted capacity warning: {what}"
        return "counted"
    assert supply_figures(res) == supply_figures(clean_res), f"supply figures changed: {what}"
    return "same"


CAPACITY_EXAMPLES = [
    (dict(cid="fitness_15", unit_i=3, position="space", fmt="csv"), "same"),  # 场地面积 公顷
    (dict(cid="fitness_15", unit_i=5, position="unit_row", fmt="xlsx"), "same"),  # 亩 on its own row
    (dict(cid="culture_sports_10", unit_i=6, position="fw_colon", fmt="csv"), "same"),  # 建筑面积：万平方米
    (dict(cid="fitness_15", unit_i=4, position="config_column", fmt="csv"), "same"),  # 规模 + capacity_unit = ha
    (dict(cid="fitness_15", unit_i=3, position="none", fmt="csv"), "counted"),  # hectares, no unit: unknown
    (dict(cid="fitness_15", unit_i=9, position="space", fmt="csv"), "refused"),  # 场地面积 英里
]


@given(
    cid=st.sampled_from(sorted(CAP_CIRCLES)),
    unit_i=st.integers(0, len(UNITS) - 1),
    position=st.sampled_from(POSITIONS),
    fmt=FMT,
)
@settings(max_examples=_n(40), deadline=None, suppress_health_check=HEALTH)
@example(**CAPACITY_EXAMPLES[0][0])
@example(**CAPACITY_EXAMPLES[3][0])
def test_capacity_units_anywhere_are_converted_refused_or_counted(env, cid, unit_i, position, fmt):
    event(_damage_capacity(env, cid, unit_i, position, fmt))


@pytest.mark.parametrize("kw,outcome", CAPACITY_EXAMPLES)
def test_the_capacity_examples_end_as_described(env, kw, outcome):
    assert _damage_capacity(env, **kw) == outcome


def test_a_reader_dropping_the_unit_is_caught(env):
    """The property's own check: hectares read as m² (the issue's 1,261 m²) fail it."""
    with pytest.raises(AssertionError, match="capacities changed"):
        _damage_capacity(env, "fitness_15", 3, "space", "csv", drop_unit=True)


# ============================================================ 2. candidate tables

CRS_KINDS = (
    "header_wgs84",  # lon_wgs84/lat_wgs84
    "header_gcj02",  # lon_gcj02/lat_gcj02 with GCJ-02 values
    "header_bd09",  # lon_bd09/lat_bd09 with BD-09 values
    "option_wgs84",  # 经度/纬度 + crs="wgs84"
    "option_gcj02",  # 经度/纬度 (GCJ-02 values) + crs="gcj02"
    "undeclared_wgs84",  # 经度/纬度, no option, no project default: must not be guessed
    "undeclared_gcj02",
)
COORD_OPS = st.one_of(
    st.tuples(st.just("none")),
    st.tuples(st.just("swap_row"), st.integers(0, 99)),
    st.tuples(
        st.just("respell"),
        st.integers(0, 99),
        st.sampled_from(["fullwidth", "spaces", "degree_sign", "decimal_comma", "na", "empty", "sci"]),
    ),
    st.tuples(st.just("dup"), st.integers(0, 99)),
)
_FULL = str.maketrans("0123456789.-", "０１２３４５６７８９．－")
N_CANDIDATES = 30


def _respell(v: str, kind: str) -> str:
    if kind == "sci":
        try:
            return f"{float(v):.15e}"  # full precision: the same number
        except ValueError:  # already re-spelt: leave it
            return v
    return {
        "fullwidth": v.translate(_FULL),
        "spaces": f"  {v} ",
        "degree_sign": v + "°",
        "decimal_comma": v.replace(".", ","),
        "na": "N/A",
        "empty": "",
    }[kind]


@pytest.fixture(scope="module")
def sites(env):
    """The clean candidate table (30 gap clusters of the fitness circle, WGS84, sizes in m²) and its ranking."""
    _, res = env.clean_run("fitness_15")
    gaps = _quiet(build_candidates, env.study, res, gaps=True).table.head(N_CANDIDATES)
    clean = pd.DataFrame(
        {
            "名称": [f"候选{i:02d}" for i in range(len(gaps))],
            "lon": [repr(float(v)) for v in gaps["lon"]],
            "lat": [repr(float(v)) for v in gaps["lat"]],
            "m2": [float(1000 + 137 * i) for i in range(len(gaps))],
        }
    )
    rank = _rank(env, res, _cand_file(env, clean, "header_wgs84", [("none",)], 0, "bracket", "csv")[0], None)
    assert len(rank) == 5 and all(r[3] > 0 for r in rank)
    return clean, rank


def _cand_file(e: Env, clean: pd.DataFrame, crs_kind: str, ops: list, unit_i: int, position: str, fmt: str):
    """Write the damaged candidate file; return (path, crs option, capacity_column, capacity_unit)."""
    lon, lat = clean["lon"].astype(float).to_numpy(), clean["lat"].astype(float).to_numpy()
    datum = crs_kind.split("_")[1]
    if datum == "gcj02":
        lon, lat = wgs84_to_gcj02(lon, lat)
    elif datum == "bd09":
        lon, lat = wgs84_to_bd09(lon, lat)
    names = (f"lon_{datum}", f"lat_{datum}") if crs_kind.startswith("header") else ("经度", "纬度")
    crs = datum if crs_kind.startswith("option") else None
    unit, _, factor = UNITS[unit_i]
    header, unit_cell, cfg_col, cfg_unit = _header("场地面积", unit, position)
    rows = [
        [n, repr(float(x)), repr(float(y)), _number(m, factor)]
        for n, x, y, m in zip(clean["名称"], lon, lat, clean["m2"])
    ]
    for op in ops:
        if op[0] == "swap_row":
            r = rows[op[1] % len(rows)]
            r[1], r[2] = r[2], r[1]
        elif op[0] == "respell":
            r = rows[op[1] % len(rows)]
            r[1] = _respell(r[1], op[2])
        elif op[0] == "dup":
            i = op[1] % len(rows)
            rows.insert(i, list(rows[i]))
    cols = ["名称", *names, header]
    unit_row = ["", "度", "度", unit_cell] if unit_cell else None
    return _write(e.path("sites"), cols, rows, fmt, unit_row), crs, cfg_col, cfg_unit


def _rank(
    e: Env, res, path: Path, crs: str | None, cap_col: str | None = None, cap_unit: str | None = None, study=None
):
    study = study or e.study
    circle = res.circle
    if cap_col is not None or cap_unit is not None:
        circle = dataclasses.replace(circle, capacity_column=cap_col or "", capacity_unit=cap_unit or "")
        res = dataclasses.replace(res, circle=circle)
    cands = build_candidates(study, res, gaps=False, path=path, crs=crs)
    table = plan_sites(study, res, cands, k=5).table
    return [
        (str(n), int(node), float(p), float(c))
        for n, node, p, c in zip(table["name"], table["node"], table["new_population"], table["capacity"])
    ]


def _damage_candidates(e: Env, sites, crs_kind, ops, unit_i, position, fmt, *, accept_changed=False) -> str:
    clean, clean_rank = sites
    if UNITS[unit_i][1] != "area_m2":
        unit_i = 0
    _, res = e.clean_run("fitness_15")
    path, crs, cap_col, cap_unit = _cand_file(e, clean, crs_kind, ops, unit_i, position, fmt)
    what = f"candidates {crs_kind} {ops} {UNITS[unit_i][0]!r} at {position} as {fmt} ({path.name})"
    study = e.study
    if crs_kind.startswith("undeclared"):  # no project default either: the datum is the file's to say
        study = dataclasses.replace(study, settings=NO_DEFAULT)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            rank = _rank(e, res, path, crs, cap_col, cap_unit, study=study)
        except DgCoverageError as exc:
            assert str(exc).strip(), f"refused without a message: {what}"
            return "refused"
    if crs_kind.startswith("undeclared"):
        pytest.fail(f"an undeclared datum was guessed: {what}")
    # a site's size is the converted one or unknown, never another number, warning or not
    size = dict(zip(clean["名称"], clean["m2"]))
    wrong = [(n, c, size[n]) for n, _, _, c in rank if n in size and not np.isnan(c) and not _close(c, size[n])]
    assert not wrong, f"candidate sizes changed (not unknown): {what}\n  (site, read, right) {wrong}"
    if all(a[:3] == b[:3] and _close(a[3], b[3]) for a, b in zip(rank, clean_rank)) and len(rank) == len(clean_rank):
        return "same"
    said = [str(r.message) for r in rec if issubclass(r.category, DgCoverageWarning)]
    assert said or accept_changed, f"ranked sites changed with no warning: {what}\n  {rank}\n  vs {clean_rank}"
    return "counted"


CANDIDATE_EXAMPLES = [
    (dict(crs_kind="header_gcj02", ops=[("none",)], unit_i=3, position="space", fmt="csv"), "same"),
    (dict(crs_kind="undeclared_wgs84", ops=[("none",)], unit_i=0, position="bracket", fmt="csv"), "refused"),
    (dict(crs_kind="option_wgs84", ops=[("swap_row", 0)], unit_i=5, position="unit_row", fmt="xlsx"), "same"),
    (dict(crs_kind="header_wgs84", ops=[("none",)], unit_i=10, position="fw_colon", fmt="csv"), "refused"),
]


@given(
    crs_kind=st.sampled_from(CRS_KINDS),
    ops=st.lists(COORD_OPS, min_size=1, max_size=2),
    unit_i=st.integers(0, len(UNITS) - 1),
    position=st.sampled_from(POSITIONS),
    fmt=FMT,
)
@settings(max_examples=_n(25), deadline=None, suppress_health_check=HEALTH)
@example(**CANDIDATE_EXAMPLES[0][0])
@example(**CANDIDATE_EXAMPLES[1][0])
def test_damaged_candidate_table_is_refused_same_ranking_or_said(env, sites, crs_kind, ops, unit_i, position, fmt):
    event(_damage_candidates(env, sites, crs_kind, ops, unit_i, position, fmt))


@pytest.mark.parametrize("kw,outcome", CANDIDATE_EXAMPLES)
def test_the_candidate_examples_end_as_described(env, sites, kw, outcome):
    assert _damage_candidates(env, sites, **kw) == outcome


# ============================================================ 3. config values in wrong units

#: (key, factor, where): the value a person writes in the wrong unit.
WRONG_UNITS = (
    ("speed_kmh", 3.6, "circle"),  # m/s taken for km/h the other way (km/h x 3.6)
    ("speed_kmh", 1 / 3.6, "circle"),  # km/h written in m/s (4.5 -> 1.25)
    ("speed_kmh", 1000 / 60, "circle"),  # km/h written in m/min (4.5 -> 75)
    ("speed_kmh", 60.0, "circle"),
    ("minutes", 60.0, "circle"),  # seconds
    ("minutes", 1 / 60, "circle"),  # hours
    ("supply_target", 1000.0, "circle"),  # per 1,000 written as per person
    ("supply_target", 1 / 1000, "circle"),
    ("access_speed_kmh", 3.6, "circle"),
    ("max_snap_m", 1 / 1000, "settings"),  # km
)


def _wrong_unit_doc(c: int, w: int, insist: str | None) -> tuple[dict, str, float | None]:
    doc = _clean_doc()
    key, factor, where = WRONG_UNITS[w]
    if where == "settings":
        body = doc["settings"]
    else:
        cid, body = doc["circles"][c % len(doc["circles"])]
    keys = [k for k, _ in body]
    if key not in keys:
        if key != "access_speed_kmh":
            return doc, key, None
        speed = dict(body)["speed_kmh"]
        body.append((key, min(speed, 4.0)))
        keys.append(key)
    i = keys.index(key)
    value = body[i][1] * factor
    body[i] = (key, value)
    if insist == "settings":
        doc["settings"] = [(k, v) for k, v in doc["settings"] if k != "allow_unusual_settings"]
        doc["settings"].append(("allow_unusual_settings", True))
    elif insist == "circle" and where == "circle":
        body.append(("allow_unusual_settings", True))
    return doc, key, value


@given(
    c=st.integers(0, 3),
    w=st.integers(0, len(WRONG_UNITS) - 1),
    insist=st.sampled_from([None, None, "settings", "circle"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "crlf"]),
)
@settings(max_examples=_n(60), deadline=None, suppress_health_check=HEALTH)
@example(c=1, w=0, insist=None, encoding="utf-8")  # fitness walked at 4.5 x 3.6 = 16.2 km/h
@example(c=1, w=6, insist=None, encoding="utf-8")  # 3.2 m² per person written 3200
@example(c=1, w=6, insist="settings", encoding="utf-8")  # ... and insisted on
def test_config_values_in_wrong_units_are_refused_naming_the_key(tmp_path_factory, c, w, insist, encoding):
    doc, key, value = _wrong_unit_doc(c, w, insist)
    if value is None:
        event("circle has no such key")
        return
    p = tmp_path_factory.mktemp("cfg19") / "circles.toml"
    _write_config(p, _toml(doc), encoding)
    try:
        circles, sett = load_config(p)
    except ConfigError as exc:
        msg = str(exc)
        assert key in msg, f"refused without naming {key}: {msg}"
        # insisting does not lift the hard limits (e.g. speed_kmh over 150, minutes over 600): still refused
        if insist is None or (insist == "circle" and WRONG_UNITS[w][2] == "settings"):
            assert "allow_unusual_settings" in msg or "must be" in msg or "max" in msg, f"no way out said: {msg}"
        event("refused")
        return
    assert insist is not None, f"{key} = {value!r} (wrong unit) accepted without allow_unusual_settings"
    if WRONG_UNITS[w][2] == "settings":
        got = getattr(sett, key)
    else:
        got = getattr(circles[doc["circles"][c % len(doc["circles"])][0]], key)
    assert math.isclose(got, value, rel_tol=1e-12), f"{key}: written {value!r}, read {got!r}"
    event("insisted")
