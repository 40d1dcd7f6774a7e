"""A study region as data: its towns (upper units) and villages (lower units) for any place on Earth.

Dongguan (the packaged default) is one region: its towns and the official list of 609 村/社区. Any other region
is two tables the user gives: towns with ``code``, ``name`` and polygon geometry (optionally ``population``, the
census per town) and villages with ``code``, ``name``, ``town_code`` and polygon or point geometry, in any CRS
declared on the frame or file. The user's villages ARE the list: a repeated code, a village naming an unknown
town or a town without a polygon is refused with the row and the fix. A region may also be a TOML file (or a
folder holding ``region.toml``) naming its files, code and name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import tomllib

from ..errors import ColumnError, ConfigError, CRSError, DataMismatchError, EmptyInputError, InputNotFoundError

#: The city row of a region that names no code/name of its own.
DEFAULT_CITY_CODE = "ALL"
DEFAULT_CITY_NAME = "全域 all units"

TOWN_ALIASES = {
    "code": ["code", "town_code", "代码", "区划代码", "编码"],
    "name": ["name", "town_name", "名称", "镇街", "街道"],
    "population": ["population", "census", "census_2020", "人口", "常住人口"],
}
UNIT_ALIASES = {
    "code": ["code", "village_code", "代码", "区划代码", "编码"],
    "name": ["name", "village", "名称", "村(社区)", "社区名称"],
    "town_code": ["town_code", "parent_code", "所属镇街代码", "镇街代码"],
}
#: Files a region may be read from (``--towns`` / ``--villages``).
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")


@dataclass
class Region:
    """A study region: towns in the study form and the village list with its geometry (both WGS84).

    ``towns``: ``town_code, town_name, has_polygon`` (and ``census_2020`` when a population was given),
    ``geometry``. ``villages``: the list (``code, name, short_name, town_code, town_name, type``) with the
    user's geometry. ``city_code``/``city_name`` label the city-wide row of every town table.
    """

    towns: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    city_code: str = DEFAULT_CITY_CODE
    city_name: str = DEFAULT_CITY_NAME
    name: str = ""
    sources: dict[str, Any] = field(default_factory=dict)

    @property
    def village_list(self) -> pd.DataFrame:
        """The list the villages are matched against (the study's 'official list')."""
        return pd.DataFrame(self.villages.drop(columns="geometry"))


def _columns(df: pd.DataFrame, aliases: dict[str, list[str]], required: tuple[str, ...], source: str) -> dict[str, str]:
    from .tables import resolve_columns

    cols = resolve_columns(pd.DataFrame(df.drop(columns="geometry", errors="ignore")), aliases, path=source)
    missing = [k for k in required if k not in cols]
    if missing:
        raise ColumnError(
            source,
            f"has no {', '.join(missing)} column (columns: {[str(c) for c in df.columns][:12]}).",
            f"add the column(s) {', '.join(missing)} (a region's units need code, name"
            + (", town_code" if "town_code" in required else "")
            + " and geometry).",
        )
    return cols


def _codes(s: pd.Series) -> pd.Series:
    """Codes as text: ``441900003.0`` (a spreadsheet's float) is read as ``441900003``."""
    return s.astype(str).str.strip().str.replace(r"^(\d+)\.0+$", r"\1", regex=True)


def _wgs84(g: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    if g.crs is None:
        raise CRSError(f"{source}: has no CRS. Fix: declare one (gdf.set_crs(4326), or a .prj / GeoJSON crs).")
    return g.to_crs(4326)


def _refuse_duplicates(codes: pd.Series, source: str, what: str) -> None:
    dup = codes.duplicated(keep=False) & (codes != "")
    if dup.any():
        rows = {c: np.nonzero((codes == c).to_numpy())[0].tolist() for c in codes[dup].unique()[:5]}
        raise DataMismatchError(
            f"{source}: {int(codes[dup].nunique())} {what} code(s) appear on several rows ({rows}, rows counted "
            f"from 0). Fix: give every {what} its own code."
        )
    empty = (codes == "") | (codes.str.lower() == "nan")
    if empty.any():
        rows = np.nonzero(empty.to_numpy())[0][:10].tolist()
        raise DataMismatchError(
            f"{source}: {int(empty.sum())} {what} row(s) have no code (rows {rows}). Fix: give every {what} a code."
        )


def region_from_frames(
    towns: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    *,
    city_code: str | None = None,
    city_name: str | None = None,
    name: str = "",
    towns_source: str = "towns GeoDataFrame",
    villages_source: str = "villages GeoDataFrame",
) -> Region:
    """Check and type a region given as two GeoDataFrames (any declared CRS; reprojected to WGS84).

    Raises
    ------
    DgCoverageError
        Naming the frame, the row and the fix: no CRS, a missing column, a repeated or empty code, a town that
        is not a polygon, a village whose ``town_code`` is no town of the region, a village code equal to the
        city code.
    """
    if towns is None or len(towns) == 0:
        raise EmptyInputError(f"{towns_source}: holds no towns. Fix: pass the region's upper units as polygons.")
    if villages is None or len(villages) == 0:
        raise EmptyInputError(f"{villages_source}: holds no villages. Fix: pass the region's lower units.")
    t = _wgs84(towns, towns_source)
    tc = _columns(t, TOWN_ALIASES, ("code", "name"), towns_source)
    tcode = _codes(t[tc["code"]]).reset_index(drop=True)
    _refuse_duplicates(tcode, towns_source, "town")
    poly = t.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy() & t.geometry.notna().to_numpy()
    if not poly.all():
        bad = np.nonzero(~poly)[0][:10].tolist()
        raise DataMismatchError(
            f"{towns_source}: town rows {bad} (codes {tcode[~poly].head(5).tolist()}) are not polygons. Fix: give "
            "each town its boundary polygon."
        )
    out_t = gpd.GeoDataFrame(
        {"town_code": tcode, "town_name": t[tc["name"]].astype(str).str.strip().to_numpy()},
        geometry=gpd.GeoSeries(t.geometry.make_valid().to_numpy(), crs=4326),
    )
    out_t["has_polygon"] = True
    if "population" in tc:
        out_t["census_2020"] = pd.to_numeric(t[tc["population"]], errors="coerce").to_numpy()
    v = _wgs84(villages, villages_source)
    vc = _columns(v, UNIT_ALIASES, ("code", "name", "town_code"), villages_source)
    vcode = _codes(v[vc["code"]]).reset_index(drop=True)
    _refuse_duplicates(vcode, villages_source, "village")
    vtown = _codes(v[vc["town_code"]]).reset_index(drop=True)
    unknown = ~vtown.isin(set(tcode))
    if unknown.any():
        rows = np.nonzero(unknown.to_numpy())[0]
        raise DataMismatchError(
            f"{villages_source}: {len(rows)} village row(s) name a town_code that is no town of the region (rows "
            f"{rows[:10].tolist()}, e.g. code {vcode[rows[0]]!r} with town_code {vtown[rows[0]]!r}; the towns are "
            f"{sorted(tcode)[:8]}). Fix: correct their town_code or add the town to the towns file."
        )
    kinds = set(v.geom_type.dropna())
    if not (kinds <= {"Point"} or kinds <= {"Polygon", "MultiPolygon"}) or v.geometry.isna().any():
        raise DataMismatchError(
            f"{villages_source}: villages must be all points or all polygons, each with a geometry (found "
            f"{sorted(kinds)}). Fix: pass one point or one polygon per village."
        )
    city_code = DEFAULT_CITY_CODE if city_code is None else str(city_code).strip()
    if city_code in set(tcode):
        raise DataMismatchError(
            f"the city code {city_code!r} is also a town's code in {towns_source}. Fix: choose another city code."
        )
    names = dict(zip(tcode, out_t["town_name"]))
    vname = v[vc["name"]].astype(str).str.strip().to_numpy()
    out_v = gpd.GeoDataFrame(
        {
            "code": vcode,
            "name": vname,
            "short_name": vname,
            "town_code": vtown,
            "town_name": vtown.map(names).to_numpy(),
            "type": "",
        },
        geometry=gpd.GeoSeries(v.geometry.to_numpy(), crs=4326),
    )
    return Region(
        out_t.sort_values("town_code").reset_index(drop=True),
        out_v,
        city_code,
        DEFAULT_CITY_NAME if city_name is None else str(city_name),
        name,
        {"towns": towns_source, "villages": villages_source},
    )


def read_units(path: str | Path, what: str, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a units file: GeoJSON/GPKG/SHP (their own CRS), or CSV/XLSX with lon/lat or a WKT ``geometry`` column.

    A table's coordinates are WGS84 unless ``crs`` (or its column names) says otherwise; a ``geometry``/``wkt``
    column holds WGS84 WKT (polygons for towns).
    """
    from .coords import to_wgs84
    from .villages import read_vector

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(path, f"{what} file")
    if path.suffix.lower() in VECTOR_SUFFIXES:
        g = read_vector(path)
        if g.crs is None:
            raise CRSError(f"{path}: declares no CRS. Fix: save it with one (GeoJSON: WGS84; SHP: a .prj file).")
        return g
    from .tables import read_coordinate_table, read_table

    df = read_table(path, what=what)
    wkt = [c for c in df.columns if str(c).strip().lower() in ("geometry", "wkt", "geom")]
    if wkt:
        try:
            geom = gpd.GeoSeries.from_wkt(df[wkt[0]].astype(str).to_numpy(), crs=4326)
        except Exception as exc:
            raise ColumnError(path, f"column {wkt[0]!r} is not WKT ({exc}).", "write geometries as WKT.") from exc
        return gpd.GeoDataFrame(df.drop(columns=wkt[0]), geometry=geom)
    df, coords, _ = read_coordinate_table(path, crs or "wgs84", what=what, crs_option=f"--{what}-crs")
    lon = pd.to_numeric(df[coords["lon"]], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(df[coords["lat"]], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        raise ColumnError(
            path, f"rows {np.nonzero(bad)[0][:10].tolist()} have no valid coordinates.", "fill lon/lat of every row."
        )
    lon, lat = to_wgs84(lon, lat, coords["crs"])
    return gpd.GeoDataFrame(
        df.drop(columns=[coords["lon"], coords["lat"]]), geometry=gpd.points_from_xy(lon, lat), crs=4326
    )


def region_from_files(
    towns: str | Path,
    villages: str | Path,
    *,
    city_code: str | None = None,
    city_name: str | None = None,
    name: str = "",
    villages_crs: str | None = None,
) -> Region:
    """Read a region from a towns file and a villages file (see :func:`read_units`)."""
    return region_from_frames(
        read_units(towns, "towns"),
        read_units(villages, "villages", villages_crs),
        city_code=city_code,
        city_name=city_name,
        name=name,
        towns_source=str(towns),
        villages_source=str(villages),
    )


REGION_KEYS = {"name", "code", "city_name", "towns", "villages", "network", "population", "facilities"}


def read_region_toml(path: str | Path) -> dict[str, Any]:
    """Read a region TOML (or a folder holding ``region.toml``): file paths resolved against its folder.

    Keys: ``towns``, ``villages`` (required), ``name``, ``code`` (the city row's code), ``city_name``, and
    optionally ``network``, ``population`` and ``facilities`` (a table circle id -> file).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "region.toml"
    if not p.exists():
        raise InputNotFoundError(p, "region TOML")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: is not valid TOML ({exc}). Fix: correct the file.") from exc
    unknown = set(raw) - REGION_KEYS
    if unknown:
        raise ConfigError(f"{p}: unknown key(s) {sorted(unknown)}. Fix: use only {sorted(REGION_KEYS)}.")
    for key in ("towns", "villages"):
        if not isinstance(raw.get(key), str):
            raise ConfigError(f'{p}: key {key!r} (a file path) is missing. Fix: add {key} = "{key}.geojson".')
    out: dict[str, Any] = {"path": p, "name": str(raw.get("name", p.parent.name))}
    for key in ("towns", "villages", "network", "population"):
        if isinstance(raw.get(key), str):
            out[key] = (p.parent / raw[key]).resolve()
    fac = raw.get("facilities", {})
    if not isinstance(fac, dict) or not all(isinstance(v, str) for v in fac.values()):
        raise ConfigError(f'{p}: facilities must be a table circle id -> file (facilities.fitness_15 = "f.geojson").')
    out["facilities"] = {k: (p.parent / v).resolve() for k, v in fac.items()}
    out["code"] = str(raw["code"]) if "code" in raw else None
    out["city_name"] = str(raw.get("city_name", raw.get("name", ""))) or None
    return out
