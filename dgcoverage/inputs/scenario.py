"""A scenario file (TOML) and the edit files it names: facilities added/removed, capacities, road links, closures.

Layout (every key optional, paths relative to the TOML file)::

    allow_unusual_settings = true  # link speeds outside their mode's plausible range are meant (150 km/h stays)

    [facilities]
    add = "planned.csv"         # read like --facilities (lon/lat columns or GeoJSON)
    add_crs = "gcj02"           # wgs84 | gcj02 | bd09 (as --facilities-crs)
    top = 3                     # only the first 3 rows of add (e.g. site's candidates.csv)
    remove = ["f003", "f010"]   # facility_id values (facilities.csv) that close
    remove_file = "closing.csv" # or a table with a facility_id column
    capacity = "capacity.csv"   # facility_id + new capacity (units read as in facility files)

    [roads]
    close = "closure.geojson"   # polygons: every street with an end inside is closed
    close_crs = "wgs84"         # the polygons' datum when the file does not say (GeoJSON is WGS84)
    close_ways = [123456, 789]  # OSM way ids: every street edge of those ways is closed (OSM-based networks)
    close_ways_file = "ways.csv" # or a table with a way_id column

    [[roads.link]]              # a new street between two points, snapped to the nearest nodes
    from = [113.7512, 23.0201]
    to = [113.7560, 23.0233]
    crs = "wgs84"               # the points' datum
    mode = "walk"               # walk | bicycle | drive | all (the circles whose mode it serves)
    speed_kmh = 4.0             # or minutes = 2.5; neither: the circle's own speed
    name = "新建人行桥"

Everything is checked here; an error names the file, the key or row and the fix: capacities by the facility
files' plausibility rules, link speeds (given, or implied by minutes over the straight length) by the plausible
range of their mode and the 150 km/h hard limit of :mod:`dgcoverage.inputs.config`.  Whether the way ids of
``close_ways`` are in the road network is checked against the network (:mod:`dgcoverage.pipeline.road_edits`):
networks read from OSM files, OSMnx graphs and .graphml carry them (``RoadNetwork.way_id``), the synthetic demo
roads do not.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.roadnet import haversine_m
from ..errors import ConfigError, CRSError, InputFileError
from .config import HARD_LIMITS, PLAUSIBLE
from .coords import canonical_crs, to_wgs84
from .tables import read_table

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Modes a road link may serve (``all``: every circle).
LINK_MODES = ("walk", "bicycle", "drive", "all")
#: Columns of a road-link table (the API's ``links`` frame; lon/lat in WGS84).
LINK_COLUMNS = ("from_lon", "from_lat", "to_lon", "to_lat", "mode", "speed_kmh", "minutes", "name")
_TOP = {"facilities", "roads", "name", "circle", "note", "allow_unusual_settings"}
_FAC = {"add", "add_crs", "top", "remove", "remove_file", "capacity"}
_ROADS = {"close", "close_crs", "close_ways", "close_ways_file", "link"}
_LINK = {"from", "to", "crs", "mode", "speed_kmh", "minutes", "name"}


@dataclass
class ScenarioSpec:
    """A scenario file read and checked: paths resolved, ids listed, links in WGS84, closures as polygons."""

    path: Path | None = None
    name: str = ""
    circle: str | None = None
    add: Path | None = None
    add_crs: str | None = None
    top: int | None = None
    remove: list[str] = field(default_factory=list)
    capacity: Path | None = None
    links: pd.DataFrame | None = None
    allow_unusual_settings: bool = False
    close: Path | None = None
    close_crs: str | None = None
    close_ways: list[int] = field(default_factory=list)

    def sources(self) -> dict[str, Any]:
        """Return the edits' sources as ``scenario.json`` records them."""
        out: dict[str, Any] = {"scenario_file": str(self.path) if self.path else None, "name": self.name or None}
        for k in ("add", "top", "capacity", "close"):
            v = getattr(self, k)
            out[k] = str(v) if isinstance(v, Path) else v
        out["remove"] = list(self.remove)
        out["close_ways"] = list(self.close_ways)
        out["links"] = 0 if self.links is None else len(self.links)
        return {k: v for k, v in out.items() if v not in (None, [], 0, "")}


def _unknown(keys: set[str], allowed: set[str], where: str) -> None:
    extra = sorted(keys - allowed)
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {extra}. Fix: use only {sorted(allowed)}")


def _file(base: Path, value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be a file path (a string), got {value!r}")
    p = Path(value)
    p = p if p.is_absolute() else base / p
    if not p.exists():
        raise InputFileError(p, f"not found ({where}).", "give a path relative to the scenario file")
    return p


def _crs(value: Any, where: str) -> str:
    """:func:`canonical_crs` whose refusal names the file and key (``plan.toml [[roads.link]] #1 crs``)."""
    try:
        return canonical_crs(str(value))
    except CRSError as exc:
        raise CRSError(f"{where}: {exc} Fix: write wgs84, gcj02 (Gaode/Tencent) or bd09 (Baidu)") from None


def read_scenario(path: str | Path, allow_unusual_settings: bool = False) -> ScenarioSpec:
    """Read a scenario TOML file (see the module docstring); refuse unknown keys and impossible values.

    ``allow_unusual_settings`` (or the file's top-level ``allow_unusual_settings = true``) lets link speeds outside
    the plausible range of their mode pass; the hard limit (150 km/h) stays.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(
            path,
            "--scenario file not found.",
            "give the path of a scenario .toml (e.g. docs/examples/scenario/plan.toml)",
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not valid TOML ({exc}).", "check quotes and brackets on that line") from None
    _unknown(set(data), _TOP, str(path))
    spec = ScenarioSpec(path=path, name=str(data.get("name", "")), circle=data.get("circle"))
    allow = data.get("allow_unusual_settings", False)
    if not isinstance(allow, bool):
        raise ConfigError(f"{path} allow_unusual_settings: true or false, got {allow!r}")
    spec.allow_unusual_settings = allow or bool(allow_unusual_settings)
    _facilities_part(spec, data.get("facilities", {}), path)
    _roads_part(spec, data.get("roads", {}), path)
    return spec


def _facilities_part(spec: ScenarioSpec, fac: Any, path: Path) -> None:
    base = path.parent
    if not isinstance(fac, dict):
        raise ConfigError(f"{path}: [facilities] must be a table")
    _unknown(set(fac), _FAC, f"{path} [facilities]")
    if "add" in fac:
        spec.add = _file(base, fac["add"], f"{path} [facilities] add")
    if "add_crs" in fac:
        spec.add_crs = _crs(fac["add_crs"], f"{path} [facilities] add_crs")
    if "top" in fac:
        top = fac["top"]
        if not isinstance(top, int) or isinstance(top, bool) or top < 1 or "add" not in fac:
            raise ConfigError(f"{path} [facilities] top: a whole number >= 1 with add = FILE, got {top!r}")
        spec.top = top
    remove = fac.get("remove", [])
    if isinstance(remove, str):
        remove = [r.strip() for r in remove.split(",") if r.strip()]
    if not isinstance(remove, list) or not all(isinstance(r, str | int) for r in remove):
        raise ConfigError(f'{path} [facilities] remove: a list of facility ids (["f003", "f010"]), got {remove!r}')
    spec.remove = [str(r) for r in remove]
    if "remove_file" in fac:
        spec.remove += read_id_list(_file(base, fac["remove_file"], f"{path} [facilities] remove_file"))
    if "capacity" in fac:
        spec.capacity = _file(base, fac["capacity"], f"{path} [facilities] capacity")


def _roads_part(spec: ScenarioSpec, roads: Any, path: Path) -> None:
    base = path.parent
    if not isinstance(roads, dict):
        raise ConfigError(f"{path}: [roads] must be a table")
    _unknown(set(roads), _ROADS, f"{path} [roads]")
    if "close" in roads:
        spec.close = _file(base, roads["close"], f"{path} [roads] close")
    if "close_crs" in roads:
        spec.close_crs = _crs(roads["close_crs"], f"{path} [roads] close_crs")
    if "close_ways" in roads:
        spec.close_ways = way_id_list(roads["close_ways"], f"{path} [roads] close_ways")
    if "close_ways_file" in roads:
        spec.close_ways += read_way_ids(_file(base, roads["close_ways_file"], f"{path} [roads] close_ways_file"))
    spec.close_ways = list(dict.fromkeys(spec.close_ways))
    links = roads.get("link", [])
    if not isinstance(links, list):
        raise ConfigError(f"{path} [roads] link: write each link as [[roads.link]]")
    if links:
        rows = [_link_row(x, f"{path} [[roads.link]] #{i + 1}") for i, x in enumerate(links)]
        spec.links = links_frame(rows, f"{path} [[roads.link]]", allow_unusual_settings=spec.allow_unusual_settings)


def _point(value: Any, where: str) -> tuple[float, float]:
    ok = isinstance(value, list) and len(value) == 2
    ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if not ok or not (-180 <= value[0] <= 180 and -90 <= value[1] <= 90):
        raise ConfigError(f"{where}: must be [lon, lat] in degrees, got {value!r}")
    return float(value[0]), float(value[1])


def _link_row(x: Any, where: str) -> dict[str, Any]:
    if not isinstance(x, dict):
        raise ConfigError(f"{where}: must be a table with from, to (and mode, speed_kmh or minutes)")
    _unknown(set(x), _LINK, where)
    for k in ("from", "to"):
        if k not in x:
            raise ConfigError(f"{where}: lacks {k} = [lon, lat]. Fix: give both ends of the link")
    crs = _crs(x.get("crs", "wgs84"), f"{where} crs")
    (a, b), (c, d) = _point(x["from"], f"{where} from"), _point(x["to"], f"{where} to")
    (a, c), (b, d) = to_wgs84(np.array([a, c]), np.array([b, d]), crs)
    return {
        "from_lon": float(a), "from_lat": float(b), "to_lon": float(c), "to_lat": float(d),
        "mode": x.get("mode", "all"), "speed_kmh": x.get("speed_kmh"), "minutes": x.get("minutes"),
        "name": str(x.get("name", "")), "crs": crs,
    }  # fmt: skip


def links_frame(
    rows: list[dict[str, Any]] | pd.DataFrame, where: str = "links", *, allow_unusual_settings: bool = False
) -> pd.DataFrame:
    """Check road links (columns :data:`LINK_COLUMNS`, WGS84) and return them as a frame.

    ``mode`` is one of :data:`LINK_MODES` (default ``all``); at most one of ``speed_kmh`` (> 0) and ``minutes``
    (>= 0) per link; neither: the link is travelled at the circle's own speed over its straight length.
    ``speed_kmh`` must lie in the plausible range of its mode (:data:`dgcoverage.inputs.config.PLAUSIBLE`;
    ``all``: 2-120 km/h) unless ``allow_unusual_settings`` (also taken from ``rows.attrs``), and never over the
    hard limit of 150 km/h.  A time in ``minutes`` is checked by the speed it implies over the straight length
    between the two points: not faster than the mode's plausible maximum (nor 150 km/h); a slower one may be a
    winding path or a wait (a ferry), since the straight length is the shortest the link can be.
    """
    allow = bool(allow_unusual_settings or (isinstance(rows, pd.DataFrame) and rows.attrs.get("allow_unusual")))
    df = pd.DataFrame(rows).reset_index(drop=True)
    for c in ("from_lon", "from_lat", "to_lon", "to_lat"):
        if c not in df:
            raise ConfigError(f"{where}: lacks column {c!r}. Fix: give {', '.join(LINK_COLUMNS[:4])} in WGS84")
    for c, default in (("mode", "all"), ("speed_kmh", np.nan), ("minutes", np.nan), ("name", "")):
        df[c] = df.get(c, default)
    df["mode"] = df["mode"].fillna("all").astype(str)
    df["name"] = df["name"].fillna("").astype(str)
    label = "#" if where.endswith("]]") else "row "
    for i, r in df.iterrows():
        row = f"{where} {label}{int(str(i)) + 1}" + (f" ({r['name']})" if r["name"] else "")
        coords = [r[c] for c in ("from_lon", "from_lat", "to_lon", "to_lat")]
        ok = all(isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_) for v in coords)
        if not ok or not all(math.isfinite(v) for v in coords):
            raise ConfigError(f"{row}: coordinates must be numbers, got {coords}")
        if not (
            -180 <= coords[0] <= 180 and -90 <= coords[1] <= 90 and -180 <= coords[2] <= 180 and -90 <= coords[3] <= 90
        ):
            raise ConfigError(f"{row}: coordinates must be lon/lat degrees (WGS84), got {coords}")
        if r["mode"] not in LINK_MODES:
            raise ConfigError(f"{row}: mode must be one of {LINK_MODES}, got {r['mode']!r}")
        sp, mi = pd.to_numeric(r["speed_kmh"], errors="coerce"), pd.to_numeric(r["minutes"], errors="coerce")
        if pd.notna(sp) and pd.notna(mi):
            raise ConfigError(f"{row}: give speed_kmh or minutes, not both")
        if (pd.notna(sp) and not sp > 0) or (pd.notna(mi) and not mi >= 0):
            raise ConfigError(
                f"{row}: speed_kmh must be > 0 and minutes >= 0, got {r['speed_kmh']!r}, {r['minutes']!r}"
            )
        _link_speed(row, r["mode"], float(sp), float(mi), float(haversine_m(*coords)), allow)
        df.loc[i, ["speed_kmh", "minutes"]] = [sp, mi]
    df["speed_kmh"] = df["speed_kmh"].astype(float)
    df["minutes"] = df["minutes"].astype(float)
    df.attrs["allow_unusual"] = allow
    df.attrs["checked"] = True
    return df


def _mode_range(mode: str) -> tuple[float, float]:
    """Plausible km/h of a link's mode (``all``: from the slowest walk to the fastest drive)."""
    ranges = PLAUSIBLE["speed_kmh"]
    if mode in ranges:
        return ranges[mode]
    return min(lo for lo, _ in ranges.values()), max(hi for _, hi in ranges.values())


def _link_speed(row: str, mode: str, speed: float, minutes: float, length_m: float, allow: bool) -> None:
    """Refuse a link speed (given, or implied by ``minutes`` over the straight length) beyond the limits."""
    hard = float(HARD_LIMITS["speed_kmh"])
    lo, hi = _mode_range(mode)
    insist = "or if it is really meant, set allow_unusual_settings = true (top of the scenario file)"
    if math.isfinite(speed):
        if speed > hard:
            raise ConfigError(
                f"{row}: speed_kmh = {speed:g} is over the hard limit of {hard:g} km/h, which "
                "allow_unusual_settings does not lift. Fix: correct the unit (km/h, not m/min or m/s x 60)"
            )
        if not allow and not lo <= speed <= hi:
            raise ConfigError(
                f"{row}: speed_kmh = {speed:g} is outside the plausible {lo:g}-{hi:g} km/h for mode {mode!r} "
                f"(m/s given as km/h?). Fix: correct it, {insist}"
            )
    if math.isfinite(minutes) and length_m > 0:
        implied = math.inf if minutes == 0 else length_m / 1000.0 / (minutes / 60.0)
        over_hard = implied > hard
        if over_hard or (not allow and implied > hi):
            limit = f"the hard limit of {hard:g} km/h" if over_hard else f"the plausible {hi:g} km/h of mode {mode!r}"
            raise ConfigError(
                f"{row}: minutes = {minutes:g} over the {length_m / 1000:,.2f} km between its two points (straight) "
                f"means {implied:,.0f} km/h, over {limit}. Fix: give the link's time in minutes (not hours), "
                "check its two points" + ("" if over_hard else f", {insist}")
            )


def way_id_list(value: Any, where: str = "close_ways") -> list[int]:
    """Check OSM way ids (a list of whole numbers > 0, or a comma-separated string) and return them, once each."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(f"{where}: a list of OSM way ids ([123456, 789]), got {value!r}")
    out = []
    for v in value:
        s = str(v).strip().removeprefix("way/").removeprefix("w")
        if isinstance(v, bool | float) or not s.isdigit() or int(s) <= 0:
            raise ConfigError(f"{where}: {v!r} is not an OSM way id (a whole number > 0, as in osm.org/way/123456)")
        out.append(int(s))
    return list(dict.fromkeys(out))


def read_way_ids(path: Path) -> list[int]:
    """Return the ``way_id`` column of a table (CSV/XLSX; ``osmid`` or ``osm_id`` also read): ways that close."""
    t = read_table(path, header_names=("way_id", "osmid", "osm_id"), what="scenario")
    col = next((c for c in ("way_id", "osmid", "osm_id") if c in t.columns), None)
    if col is None:
        raise InputFileError(path, f"no way_id column (has {list(t.columns)[:8]}).", "name the column way_id")
    ids = [s.strip() for s in t[col].astype(str) if s.strip()]
    if not ids:
        raise InputFileError(path, f"the {col} column is empty.", "list the OSM way ids that close")
    for i, s in enumerate(ids):
        if not s.removesuffix(".0").isdigit():
            raise InputFileError(path, f"column {col} row {i + 2}: {s!r} is not an OSM way id.", "whole numbers > 0")
    return way_id_list([s.removesuffix(".0") for s in ids], str(path))


def read_id_list(path: Path) -> list[str]:
    """Return the ``facility_id`` column of a table (CSV/XLSX): the facilities a scenario removes."""
    t = read_table(path, header_names=("facility_id",), what="scenario")
    if "facility_id" not in t.columns:
        raise InputFileError(
            path,
            f"no facility_id column (has {list(t.columns)[:8]}).",
            "name the column facility_id, as in facilities.csv",
        )
    ids = [s.strip() for s in t["facility_id"].astype(str) if s.strip()]
    if not ids:
        raise InputFileError(path, "the facility_id column is empty.", "list the ids that close")
    return ids


def read_capacity_edits(path: Path, kind: str | None, unit: str | None = None) -> pd.DataFrame:
    """Read ``facility_id`` and a new capacity (area m² or beds) per row, units read as in facility files (亩 ...).

    Every row must give a usable capacity: an unknown, approximate-to-nothing or upper-bound value is refused
    with its row, since an edit that sets a capacity to "unknown" is not what a plan says; so is a value the
    facility readers take for a unit or typing mistake (over :data:`~dgcoverage.inputs.capacity.CAPACITY_MAX`,
    or unit-less areas whose median is under 50 m²: hectares or 亩 read as m²).
    """
    t = read_table(path, header_names=("facility_id",), what="scenario").reset_index(drop=True)
    return capacity_edits_frame(t, kind, str(path), unit)


def capacity_edits_frame(table: pd.DataFrame, kind: str | None, where: str, unit: str | None = None) -> pd.DataFrame:
    """Check capacity edits (``facility_id`` and a capacity column, read as in facility files) and return them.

    The rules of :func:`read_capacity_edits` for a table in memory (the API's ``capacity`` frame): refused are
    a circle without a supply standard (``kind`` None), a row without a usable capacity (missing, ``NaN``, not a
    number, <= 0, an upper bound), one over the plausible maximum, unit-less areas with a median under 50 m²,
    and an id given twice.  Cells like ``45张`` or ``3亩`` are read as the file reader reads them.  Counted
    warnings (units converted, approximate values) are in ``attrs["warnings"]`` (``capacity_edits_*``).
    """
    import warnings as _w

    from .capacity import capacity_column, capacity_from_table

    err = InputFileError if Path(where).is_file() else None
    first = 2 if err else 0  # a file's line (header = 1), a frame's row from 0

    def refuse(what: str, fix: str) -> Exception:
        return err(Path(where), what, fix) if err else ConfigError(f"{where}: {what} Fix: {fix}")

    if kind not in ("area_m2", "beds"):
        raise refuse(
            "capacity edits need a circle with a supply standard (capacity = area_m2 | beds in circles.toml).",
            "drop the capacity edits, or choose a circle with a standard",
        )
    t = pd.DataFrame(table).reset_index(drop=True)
    if "facility_id" not in t.columns:
        raise refuse(f"no facility_id column (has {list(t.columns)[:8]}).", "name it facility_id")
    col = capacity_column(t, kind, None, path=where)
    if col is None and "capacity" in t.columns:
        col = "capacity"
    if col is None:
        raise refuse(
            f"no {kind} capacity column (has {list(t.columns)[:8]}).",
            "add one, e.g. " + ("'床位' or 'beds'" if kind == "beds" else "'面积(平方米)' or 'area_m2'"),
        )
    with _w.catch_warnings(record=True) as said:
        _w.simplefilter("always")
        values, counts = capacity_from_table(t, kind, where, column=col, unit=unit, check_plausible=True)
    bad = [i for i, v in enumerate(values) if not (np.isfinite(v) and v > 0)]
    if bad:
        rows = ", ".join(f"row {i + first} ({_plain(t.loc[i, col])!r})" for i in bad[:5])
        why = [str(w.message) for w in said if "mistake" in str(w.message) or "median" in str(w.message)]
        raise refuse(
            f"column {col!r} has no usable capacity in {rows}." + (f" {why[0]}" if why else ""),
            "give a number > 0 in the column's unit (say the unit in the header, e.g. 面积(平方米), 床位(张))",
        )
    for w in said:  # the counted ones (units converted, approximate values) are said again for the CLI
        _w.warn_explicit(w.message, w.category, w.filename, w.lineno)
    ids = t["facility_id"].astype(str).str.strip()
    dup = ids[ids.duplicated()].tolist()
    if dup:
        raise refuse(f"facility_id {dup[:5]} listed twice.", "one row per facility")
    out = pd.DataFrame({"facility_id": ids.to_numpy(), "capacity": values, "column": col})
    skip = {"capacity_known", "capacity_unknown"}
    out.attrs["warnings"] = {
        f"capacity_edits_{k.removeprefix('capacity_')}": int(v) for k, v in counts.items() if v and k not in skip
    }
    out.attrs["checked"] = True
    return out


def _plain(value: Any) -> Any:
    """Return a cell as Python shows it (``-2.0``, not ``np.float64(-2.0)``)."""
    return value.item() if isinstance(value, np.generic) else value


def read_closures(path: Path, crs: str | None = None) -> Any:
    """Closure polygons (any file geopandas reads) as a WGS84 GeoDataFrame; ``crs`` names a Chinese datum."""
    import geopandas as gpd

    from .coords import transform_geometry

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input
        raise InputFileError(path, f"[roads] close: cannot read it as a polygon file: {exc}") from None
    gdf = gdf.to_crs(4326) if gdf.crs is not None else gdf.set_crs(4326)
    kinds = set(gdf.geometry.geom_type.dropna())
    if not len(gdf) or not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputFileError(
            path,
            f"[roads] close needs Polygon/MultiPolygon features, has {sorted(kinds) or 'none'}.",
            "draw the closed area as a polygon",
        )
    if crs and canonical_crs(crs) != "wgs84":
        gdf = gdf.set_geometry([transform_geometry(g, canonical_crs(crs), "wgs84") for g in gdf.geometry], crs=4326)
    return gdf[["geometry"]]
