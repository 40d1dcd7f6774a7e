"""GIS layers for QGIS and ArcGIS: one GeoPackage per circle, ``<out>/<circle>/layers.gpkg``, styled.

Layers (WGS84, EPSG:4326, unless another CRS is asked: :func:`layer_crs`; field names ``"id 中文"`` exactly as the
CSV headers):

``villages``
    Every row and column of ``villages.csv`` (same values: shares cut to 6 decimals, people as integers,
    the village point's ``lon``/``lat``), with the village area as polygon (empty where it has none).
``towns``
    Every town row of ``towns.csv`` with the town boundary (the city row 441900 stays in the CSV).
``facilities``
    ``facilities.csv`` as points.
``service_area``, ``gap_areas``
    The street-following service area and the populated gap areas per village (when the areas were made:
    ``dgcoverage run`` with maps, ``dgcoverage site``).
``candidates``
    The ranked candidate sites of ``dgcoverage site`` (``candidates.csv`` as points).  A later ``run`` that keeps
    the circle's sites (its measurement unchanged, :func:`~dgcoverage.outputs.sites.keep_sites`) keeps this layer
    too, as the sites were written (reprojected if the run writes the layers in another CRS).
``layer_styles``
    QGIS styles (QML) for every layer, the default of each, so the layers open in the map pages' classes and
    colours: villages graduated by covered share in the YlGnBu classes < 30 / 30–60 / 60–90 / ≥ 90 % (the top
    class is the circle's 达标 rule, :func:`~dgcoverage.outputs.maps.common.share_classes`).

Coordinate system: WGS84 by default; ``crs=`` (``dgcoverage run/site --gpkg-crs``) writes every layer's geometry in
CGCS2000 (``EPSG:4490``, the national datum of Chinese planning offices) or a projected CRS (``EPSG:4526``,
CGCS2000 / 3-degree Gauss-Kruger zone 38, Dongguan's; the study's UTM ``EPSG:32649``); the ``lon``/``lat`` fields
stay WGS84 as their names say.  The CRS is checked before anything is computed (:func:`layer_crs`): an unknown
code, a CRS that is neither geographic 2D nor projected, or one whose area of use does not hold the study is
refused; GCJ-02 and BD-09 are not coordinate systems (no EPSG code; GIS software cannot read them) and are refused
with the fix.  ``summary.json`` → ``settings.gpkg_crs`` records the CRS the layers were written in
(``"EPSG:4326"`` by default).

One file per circle, beside that circle's tables: ``dgcoverage site`` rewrites one circle (with its candidates)
and a run of some circles leaves the others alone, exactly as the CSVs; the layers of a circle are always the
tables next to them.  The file is written through a temporary name and renamed (all or nothing) inside the
run's output set (:class:`~dgcoverage.core.outputset.OutputSet`).  Every layer's description says SYNTHETIC when
the inputs were generated, and the ``synthetic 合成数据`` field is on every row.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..compute.coverage import bilingual_name
from ..errors import CRSError
from .maps.common import MARK_COLOURS, share_classes
from .tables import circle_tables

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline.study import CircleResult, SitingResult, Study

#: File name of a circle's layers (in ``<out>/<circle>/``).
LAYERS_GPKG = "layers.gpkg"
#: Headers of the area layers' columns that the shared table labels lack.
AREA_LABELS = {
    "circle": "circle 服务圈",
    "name_zh": "name_zh 名称",
    "minutes": "minutes 时限(分钟)",
    "area_km2": "area_km2 面积(平方公里)",
    "population_beyond_limit": "population_beyond_limit 时限外人口",
    "population_unreachable": "population_unreachable 路网不可达人口",
    "population_off_network": "population_off_network 离网人口",
    "cells": "cells 栅格数(100米)",
}
_UMASK = os.umask(0)
os.umask(_UMASK)
#: Fixed creation time written into the GeoPackage (``OGR_CURRENT_DATE``): identical inputs, identical file.
GPKG_DATE = "2000-01-01T00:00:00.000Z"
#: The layers' coordinate system unless another is asked.
DEFAULT_CRS = "EPSG:4326"
#: Spellings of the Chinese web-map offsets, which are no CRS (refused with the fix).
NOT_CRS = ("gcj02", "gcj-02", "gcj", "mars", "火星坐标", "bd09", "bd-09", "bd09ll", "baidu", "百度")
#: What to use instead, in every refusal.
CRS_HINT = (
    "give an EPSG code: EPSG:4326 (WGS84, the default), EPSG:4490 (CGCS2000), EPSG:4526 (CGCS2000 / 3-degree "
    "Gauss-Kruger zone 38, Dongguan) or EPSG:32649 (WGS 84 / UTM 49N)"
)


#: Datums (their names' beginnings) the layers can be written on: WGS84 (every realisation) and CGCS2000, which
#: agree to centimetres; any other (Xian 1980, Beijing 1954, a PROJ string with an ellipsoid and no datum) has
#: no exact transformation from WGS84 in Dongguan, so PROJ would apply a guessed offset or another area's.
SAME_AS_WGS84_DATUMS = (
    "World Geodetic System 1984",
    "WGS_1984",
    "D_WGS_1984",
    "China 2000",
    "China_2000",
    "Unknown based on WGS 84 ellipsoid",  # a PROJ string "+ellps=WGS84": WGS84 itself
    "Unknown based on CGCS2000 ellipsoid",
)


def _datum_name(crs: Any) -> str:
    """Return the name of a CRS's geodetic datum (or datum ensemble), ``""`` when it has none."""
    geodetic = crs.geodetic_crs
    datum = (geodetic.datum if geodetic is not None else None) or crs.datum
    return str(datum.name) if datum is not None else ""


def layer_crs(value: Any = None, bounds: tuple[float, float, float, float] | None = None) -> Any:
    """Check the coordinate system asked for the GIS layers and return it (a :class:`pyproj.CRS`).

    Parameters
    ----------
    value
        An EPSG code (``"EPSG:4490"``, ``4526``), WKT or PROJ string, a :class:`pyproj.CRS`; ``None``: WGS84.
    bounds
        The study's WGS84 bounds ``(west, south, east, north)``: the centre must lie in the CRS's area of use
        (a Gauss-Kruger zone or UTM zone far from the study distorts it badly); ``None``: not checked.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    CRSError
        GCJ-02/BD-09 (not coordinate systems), an unknown CRS, one that is neither geographic 2D nor projected
        (geocentric, vertical, compound, 3D), or one whose area of use does not hold the study.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjError

    if value is None:
        value = DEFAULT_CRS
    if isinstance(value, str) and value.strip().lower().replace("_", "-") in NOT_CRS + ("gcj-2", "bd-9"):
        raise CRSError(
            f"--gpkg-crs {value!r}: GCJ-02 / BD-09 are not coordinate reference systems but offsets of WGS84 used by "
            "Chinese web maps (no EPSG code; QGIS and ArcGIS cannot read them), so no GeoPackage can carry them. "
            "Write the layers in WGS84 (leave --gpkg-crs out) or CGCS2000 (--gpkg-crs EPSG:4490); for 高德/腾讯 maps "
            "the candidate layer carries lon_gcj02/lat_gcj02 columns, and dgcoverage.convert turns WGS84 points "
            "into GCJ-02"
        )
    try:
        crs = CRS.from_user_input(int(value) if isinstance(value, str) and value.strip().isdigit() else value)
    except (ProjError, TypeError, ValueError) as err:
        raise CRSError(
            f"--gpkg-crs {value!r}: not a coordinate reference system PROJ knows ({err}); {CRS_HINT}"
        ) from err
    if crs.is_compound or crs.is_geocentric or crs.is_vertical or len(crs.axis_info) != 2:
        raise CRSError(
            f"--gpkg-crs {value!r} ({crs.name}): not usable for map layers (geocentric, vertical, compound or 3D); "
            f"{CRS_HINT}"
        )
    if not (crs.is_geographic or crs.is_projected):
        raise CRSError(f"--gpkg-crs {value!r} ({crs.name}): neither geographic nor projected; {CRS_HINT}")
    datum = _datum_name(crs)
    if not datum.startswith(SAME_AS_WGS84_DATUMS):
        raise CRSError(
            f"--gpkg-crs {value!r} ({crs.name}) is on the datum {datum or 'of no name'!r}, not WGS84 or CGCS2000: "
            "PROJ knows no exact transformation to it here (it would shift the layers by a guessed or another "
            "area's offset, tens to hundreds of metres, without a word), so the datum is not guessed. Fix: write "
            "the layers in WGS84 or CGCS2000 and convert them with your office's own parameters (七参数) in your "
            f"GIS; {CRS_HINT}"
        )
    aou = crs.area_of_use
    if bounds is not None and aou is not None:
        x, y = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        if not (aou.west <= x <= aou.east and aou.south <= y <= aou.north):
            raise CRSError(
                f"--gpkg-crs {value!r} ({crs.name}) is made for {aou.west:g}..{aou.east:g} E, "
                f"{aou.south:g}..{aou.north:g} N; the study lies around {x:.2f} E, {y:.2f} N, outside it, where "
                f"the layers would be badly distorted; {CRS_HINT}"
            )
    return crs


def crs_label(crs: Any) -> str:
    """Return how ``summary.json`` names a CRS: ``"EPSG:4526"`` (authority code), else its PROJ string."""
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_string()


def _qml(name: str, **values: Any) -> str:
    text = resources.files("dgcoverage").joinpath(f"data/qgis/{name}").read_text(encoding="utf-8")
    return Template(text).substitute({k: str(v) for k, v in values.items()})


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return ",".join(str(int(h[i : i + 2], 16)) for i in (0, 2, 4)) + f",{alpha}"


def village_ranges(covered_min_share: float) -> list[tuple[float, float, str, str]]:
    """Return the villages' graduated classes: ``(lower, upper, colour, label)`` per class, lowest first.

    The breaks and colours are the map pages' (:func:`~dgcoverage.outputs.maps.common.share_classes`); each
    class ends 1e-6 below the next break, the resolution of the stored (cut) shares, so a share equal to a
    break (exactly 0.9) is in the upper class whichever way a reader treats bounds.
    """
    breaks, colours, labels = share_classes(covered_min_share)
    edges = [0.0, *breaks, covered_min_share, 1.0]
    out = []
    for k, (colour, label) in enumerate(zip(colours, labels)):
        low, high = edges[k], edges[k + 1]
        upper = 1.0 if k == len(colours) - 1 else round(high - 1e-6, 6)
        out.append((low, upper, colour, label.replace("&lt;", "<")))
    return out


def villages_qml(covered_min_share: float) -> str:
    """Return the QGIS style (QML) of the villages layer: graduated by ``covered_share 覆盖率``."""
    ranges, symbols = [], []
    for k, (low, high, colour, label) in enumerate(village_ranges(covered_min_share)):
        ranges.append(
            f'      <range lower="{low:.6f}" upper="{high:.6f}" symbol="{k}" label="{escape(label)}" render="true"/>'
        )
        symbols.append(
            f'      <symbol type="fill" name="{k}" alpha="0.85" clip_to_extent="1" force_rhr="0">\n'
            '        <layer class="SimpleFill" enabled="1" locked="0" pass="0">\n'
            '          <Option type="Map">\n'
            f'            <Option type="QString" name="color" value="{_rgba(colour)}"/>\n'
            '            <Option type="QString" name="outline_color" value="120,120,120,255"/>\n'
            '            <Option type="QString" name="outline_width" value="0.15"/>\n'
            '            <Option type="QString" name="style" value="solid"/>\n'
            "          </Option>\n"
            "        </layer>\n"
            "      </symbol>"
        )
    return _qml(
        "villages.qml",
        field=escape(bilingual_name("covered_share")),
        label_field=escape(bilingual_name("name")),
        ranges="\n".join(ranges),
        symbols="\n".join(symbols),
    )


def _fill_qml(what: str, fill: str, alpha: float, outline: str, width: float, style: str = "solid") -> str:
    return _qml(
        "fill.qml",
        what=escape(what),
        fill=_rgba(fill),
        alpha=alpha,
        outline=_rgba(outline),
        width=width,
        style=style,
    )


def _points_qml(what: str, fill: str, shape: str, size: float, label: str) -> str:
    return _qml("points.qml", what=escape(what), fill=_rgba(fill), shape=shape, size=size, label_field=escape(label))


def layer_styles(covered_min_share: float) -> dict[str, str]:
    """Return the QML style of every layer by layer name (the map pages' colours, one meaning each)."""
    return {
        "villages": villages_qml(covered_min_share),
        "towns": _fill_qml("town boundaries 镇街边界", "#ffffff", 1, MARK_COLOURS["town"], 0.5, "no"),
        "service_area": _fill_qml("service area 服务范围", MARK_COLOURS["service"], 0.25, MARK_COLOURS["service"], 0.3),
        "gap_areas": _fill_qml("gap areas 服务盲区人口", MARK_COLOURS["gap_area"], 0.45, MARK_COLOURS["gap_area"], 0.1),
        "facilities": _points_qml("facilities 设施", MARK_COLOURS["facility"], "circle", 2.0, bilingual_name("name")),
        "candidates": _points_qml("candidate sites 候选点", "#e31a1c", "star", 3.6, "rank 排名"),
    }


def _points(table: pd.DataFrame, lon: str, lat: str) -> gpd.GeoDataFrame:
    x = pd.to_numeric(table[lon], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(table[lat], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    geom = np.where(ok, shapely.points(np.where(ok, x, 0.0), np.where(ok, y, 0.0)), None)
    out = table.copy()
    out[lon], out[lat] = x, y  # numbers in the layer (text in facilities.csv, for byte-stable sorting)
    return gpd.GeoDataFrame(out, geometry=list(geom), crs=4326)


def _values(table: pd.DataFrame, decimals: dict[str, int]) -> pd.DataFrame:
    """Round the table's floats as the CSV shows them (to their decimals; shares are cut already)."""
    out = table.copy()
    for c, n in decimals.items():
        if c in out.columns and pd.api.types.is_float_dtype(out[c]):
            out[c] = np.round(out[c].to_numpy(dtype=float, na_value=np.nan), n)
    return out


def circle_layers(
    study: Study | None,
    result: CircleResult,
    areas: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame] | None = None,
    sites: SitingResult | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Build a circle's GIS layers (WGS84) by layer name, in drawing order (bottom first).

    Parameters
    ----------
    study
        The study (town boundaries); ``None``: the towns layer is drawn from the union of its villages.
    result
        The circle's result.
    areas
        ``(service_area, gap_areas)`` as :func:`dgcoverage.outputs.areas.write_areas` returns them.
    sites
        The ranked sites (:func:`dgcoverage.plan_sites`).

    Returns
    -------
    dict
        ``villages``, ``towns``, [``service_area``, ``gap_areas``], ``facilities``, [``candidates``].
    """
    tables = circle_tables(result)
    vt, vdec = tables["villages"]
    layers = {"villages": gpd.GeoDataFrame(_values(vt, vdec), geometry=result.villages.geometry.to_numpy(), crs=4326)}
    tt, tdec = tables["towns"]
    code = bilingual_name("town_code")
    city = str(getattr(result, "city_code", "441900"))  # the city-wide row stays in towns.csv
    tt = _values(tt[tt[code].astype(str) != city], tdec).reset_index(drop=True)
    if study is not None:
        bounds = dict(zip(study.towns["town_code"].astype(str), study.towns.geometry))
        geom = [bounds.get(str(c)) for c in tt[code]]
    else:
        by_town = result.villages.geometry.groupby(result.villages["town_code"].astype(str)).agg(shapely.union_all)
        geom = [by_town.get(str(c)) for c in tt[code]]
    layers["towns"] = gpd.GeoDataFrame(tt, geometry=geom, crs=4326)
    if areas is not None:
        for name, gdf in zip(("service_area", "gap_areas"), areas):
            g = gdf.to_crs(4326)
            layers[name] = g.rename(
                columns={c: AREA_LABELS.get(c) or bilingual_name(c) for c in g.columns if c != "geometry"}
            )
    ft, fdec = tables["facilities"]
    layers["facilities"] = _points(_values(ft, fdec), bilingual_name("lon"), bilingual_name("lat"))
    if sites is not None:
        from .sites import site_header, site_table

        _, headed, sdec = site_table(sites)
        layers["candidates"] = _points(
            _values(headed, {site_header(c): n for c, n in sdec.items()}), site_header("lon"), site_header("lat")
        )
    for g in layers.values():  # pyogrio writes nullable integers and booleans, not pandas' extension types
        for c in g.columns:
            if isinstance(g[c].dtype, pd.Int64Dtype):
                g[c] = g[c].astype("float64") if g[c].isna().any() else g[c].astype("int64")
    return layers


def write_layers(
    study: Study | None,
    result: CircleResult,
    out_dir: str | Path,
    areas: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame] | None = None,
    sites: SitingResult | None = None,
    crs: Any = None,
) -> Path:
    """Write ``<out_dir>/<circle>/layers.gpkg``: the circle's GIS layers with their QGIS styles.

    See the module notes for the layers.  The file is written under a temporary name and renamed, so a
    reader never sees half a GeoPackage; identical inputs give an identical file (fixed GeoPackage dates).
    Without ``sites``, the candidate layer of the ``layers.gpkg`` already in the circle's folder is kept when
    the folder has the circle's ``candidates.csv`` (the sites a run keeps, :func:`~.sites.keep_sites`).

    Parameters
    ----------
    study, result, areas, sites
        As :func:`circle_layers`.
    out_dir
        The output folder (the circle's tables are in ``<out_dir>/<circle>/``).
    crs
        The layers' coordinate system (:func:`layer_crs`; ``None``: WGS84).

    Returns
    -------
    pathlib.Path
        The GeoPackage.
    """
    import pyogrio

    d = Path(out_dir) / result.circle.id
    d.mkdir(parents=True, exist_ok=True)
    path = d / LAYERS_GPKG
    has = ~(result.villages.geometry.isna() | result.villages.geometry.is_empty)
    target = layer_crs(crs, tuple(result.villages.geometry[has].total_bounds) if has.any() else None)
    layers = circle_layers(study, result, areas, sites)
    if sites is None and (kept := kept_candidates(d)) is not None:
        layers["candidates"] = kept
    layers = {k: g if g.crs == target else g.to_crs(target) for k, g in layers.items()}
    synthetic = bool(result.summary.get("synthetic"))
    c = result.circle
    about = f"dgcoverage {c.id} {c.name_zh} ({c.minutes:g} min), {crs_label(target)} {target.name}" + (
        " — SYNTHETIC DATA 合成数据: do not use the figures for planning" if synthetic else ""
    )
    styles = layer_styles(c.covered_min_share)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{LAYERS_GPKG}.", dir=d))
    tmp = tmp_dir / LAYERS_GPKG  # GDAL wants the .gpkg extension
    try:
        with _gdal_config({"OGR_CURRENT_DATE": GPKG_DATE}):
            for name, gdf in layers.items():
                pyogrio.write_dataframe(
                    gdf,
                    tmp,
                    layer=name,
                    driver="GPKG",
                    promote_to_multi=gdf.geom_type.isin(["Polygon", "MultiPolygon"]).any(),
                    layer_options={"DESCRIPTION": f"{name}: {about}", "SPATIAL_INDEX": "YES"},
                )
            pyogrio.write_dataframe(
                _styles_table({k: v for k, v in styles.items() if k in layers}, about),
                tmp,
                layer="layer_styles",
                driver="GPKG",
                layer_options={"FID": "id", "DESCRIPTION": "QGIS styles of the layers"},
            )
        os.chmod(tmp, 0o666 & ~_UMASK)  # as every other output (mkdtemp leaves no trace)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


def kept_candidates(d: Path) -> gpd.GeoDataFrame | None:
    """Return the candidate layer of ``d/layers.gpkg`` when ``d`` holds the circle's kept ``candidates.csv``.

    The layer as ``dgcoverage site`` wrote it (field types and values), so a later run's file lists the same
    sites; ``None`` when there is no such file, layer or ``candidates.csv``.
    """
    import pyogrio

    path = d / LAYERS_GPKG
    if not (d / "candidates.csv").is_file() or not path.is_file():
        return None
    if "candidates" not in {str(n) for n in pyogrio.list_layers(path)[:, 0]}:
        return None
    return pyogrio.read_dataframe(path, layer="candidates")


def _styles_table(styles: dict[str, str], about: str) -> pd.DataFrame:
    """Build the ``layer_styles`` table QGIS reads (and writes) in a GeoPackage: one default style per layer."""
    n = len(styles)
    return pd.DataFrame(
        {
            "f_table_catalog": [""] * n,
            "f_table_schema": [""] * n,
            "f_table_name": list(styles),
            "f_geometry_column": ["geom"] * n,
            "styleName": [f"dgcoverage {k}" for k in styles],
            "styleQML": list(styles.values()),
            "styleSLD": [""] * n,
            "useAsDefault": [True] * n,
            "description": [about] * n,
            "owner": [""] * n,
            "ui": [""] * n,
            "update_time": [pd.Timestamp(GPKG_DATE[:19])] * n,
        }
    )


@contextlib.contextmanager
def _gdal_config(options: dict[str, str]) -> Any:
    import pyogrio

    old = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(old)


def areas_and_layers(
    study: Study, result: CircleResult, out_dir: str | Path, sites: SitingResult | None = None, crs: Any = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Write the circle's service and gap areas (GeoJSON) and its GIS layers with them; return the areas.

    :func:`dgcoverage.outputs.areas.write_areas`, then :func:`write_layers` (one job of a run's parallel writers).
    """
    from .areas import write_areas

    areas = write_areas(study, result, out_dir)
    write_layers(study, result, out_dir, areas=areas, sites=sites, crs=crs)
    return areas


__all__ = [
    "DEFAULT_CRS",
    "LAYERS_GPKG",
    "areas_and_layers",
    "circle_layers",
    "crs_label",
    "kept_candidates",
    "layer_crs",
    "layer_styles",
    "village_ranges",
    "villages_qml",
    "write_layers",
]
