"""The data of the page layers: per-village and per-town columns and the GeoJSON of each overlay.

Villages and towns go to the page as compact columns (escaped names, rounded numbers, share classes, label
points) that the features index into (``i``); facilities, candidate sites, service and gap areas as small
FeatureCollections.  Every user-supplied string is escaped here, before it reaches a page.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ...compute.coverage import LABELS_ZH
from ...compute.sensitivity import SPEED_CLASS_ZH
from ...core.io import read_output_csv
from ..sites import SUPPLY_STATUS_SHOW, UNIT_SHOW
from .common import MISSING_TEXT, _fmt, _nums, _shares, _table, _texts, e, page_href, share_classes
from .geojson import _display, _fc, _label_points, _outline_fc

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import CircleResult, Study


def village_columns(study: Study, result: CircleResult) -> dict[str, Any]:
    """Per-village columns of a circle page: names (escaped), numbers, status, share class, label point.

    Parameters
    ----------
    study
        The study (village shapes, for the label points).
    result
        The circle's result (``result.villages``, one row per village of ``study.villages``, same order).

    Returns
    -------
    dict
        Columns of equal length: ``name, code, town, pop, share, cls, st, med, p90, ctr, fin, why, lab``;
        ``cls`` is the share class of :func:`share_classes` (``-1``: no data).
    """
    vt = result.villages
    breaks, _, _ = share_classes(result.circle.covered_min_share)
    share = pd.to_numeric(vt["covered_share"], errors="coerce").to_numpy(dtype=float)
    st = vt["status"].astype(str).to_numpy()
    cls = np.digitize(np.nan_to_num(share, nan=0.0), breaks)
    cls = np.where(st == "covered", len(breaks) + 1, cls)
    cls = np.where((st == "no_data") | ~np.isfinite(share), -1, cls)
    return {
        "name": _texts(vt["name"]),
        "code": _texts(vt["code"]),
        "town": _texts(vt["town_name"]),
        "pop": _nums(vt["population"], 0),
        "share": _shares(share),
        "cls": cls.astype(int).tolist(),
        "st": _texts(st),
        "med": _nums(vt["median_time_min"], 1),
        "p90": _nums(vt["p90_time_min"], 1),
        "ctr": _nums(vt["centre_time_min"], 1),
        "fin": _nums(vt["facilities_inside"], 0),
        "why": _texts(vt["reason"]),
        "lab": _label_points(study.villages.geometry),
    }


def town_columns(study: Study, towns_tables: Sequence[pd.DataFrame] = ()) -> dict[str, Any]:
    """Per-town columns (every town, those without a boundary too: listed, not drawn), with each table's rates.

    Parameters
    ----------
    study
        The study (its towns).
    towns_tables
        Town tables (:func:`dgcoverage.compute.coverage.town_table`), one per circle shown.

    Returns
    -------
    dict
        ``name, code, lab`` and ``c``: per table ``share`` (population covered), ``covp``, ``pop``,
        ``vrate`` (village pass rate), ``vc`` (villages covered), ``vd`` (villages with data), plus
        ``city``: the city-wide row (town code ``441900``).
    """
    t = study.towns.reset_index(drop=True)  # 东莞滨海湾新区 has no polygon of its own, but it has its numbers
    out: dict[str, Any] = {
        "name": _texts(t["town_name"]),
        "code": _texts(t["town_code"]),
        "lab": _label_points(t.geometry),
        "c": [],
    }
    if study.region:  # a region other than Dongguan names its city-wide row
        out["cityName"] = study.city_name
    for tt in towns_tables:
        q = tt.set_index("town_code")
        r = q.reindex(t["town_code"])
        city = q.loc[study.city_code] if study.city_code in q.index else None
        cols = {
            "share": _shares(r["pass_rate_population"]),
            "covp": _nums(r["covered_population"], 0),
            "pop": _nums(r["population"], 0),
            "vrate": _shares(r["pass_rate_villages"]),
            "vc": _nums(r["villages_covered"], 0),
            "vd": _nums(r["villages_with_data"], 0),
        }
        cols["city"] = (  # shares cut like the towns' (rounded, 0.542995 showed 54.3 % here and 54.2 % elsewhere)
            {k: (_shares if k in ("share", "vrate") else _nums)([city[s]], nd)[0] for k, s, nd in _CITY_FIELDS}
            if city is not None
            else None
        )
        out["c"].append(cols)
    return out


_CITY_FIELDS = (
    ("share", "pass_rate_population", 4),
    ("covp", "covered_population", 0),
    ("pop", "population", 0),
    ("vrate", "pass_rate_villages", 4),
    ("vc", "villages_covered", 0),
    ("vd", "villages_with_data", 0),
)


def circle_info(result: CircleResult) -> dict[str, Any]:
    """Return the circle's names (escaped) and parameters for the page script."""
    c = result.circle
    return {
        "id": c.id,
        "zh": e(c.name_zh),
        "en": e(c.name_en),
        "minutes": float(c.minutes),
        "mode": e(str(c.mode)),
        "speed": float(c.speed_kmh),
        "cms": float(c.covered_min_share),
        "href": page_href(c.id),
        "cu": UNIT_SHOW.get(c.capacity, ""),  # the unit of a facility's capacity (床, m²); "": none counted
    }


# ---------------------------------------------------------------- layers


def towns_layer(study: Study, towns_table: pd.DataFrame | None = None, outlines: bool = False) -> dict[str, Any]:
    """Town boundaries; feature ``i`` indexes :func:`town_columns`; with a town table, ``rate`` = population covered.

    Only towns with a polygon get a feature (their ``i`` still counts every town).

    With ``outlines`` the features carry no geometry, only their key into the shared ``outlines.js``.

    Parameters
    ----------
    study
        The study (its towns).
    towns_table
        A circle's town table: each town then carries its population-covered share (``rate``).
    outlines
        Key into the shared outlines instead of embedding the geometry.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection.
    """
    t = study.towns.reset_index(drop=True)  # indexes town_columns; a town without a polygon is not drawn
    props: list[dict[str, Any]] = [{"i": i} for i in range(len(t))]
    if towns_table is not None:
        rates = _shares(towns_table.set_index("town_code").reindex(t["town_code"])["pass_rate_population"])
        for p, r in zip(props, rates):
            p["rate"] = r
    return _outline_fc(study, t.geometry, t["town_code"], props, outlines)


def villages_layer(study: Study, result: CircleResult | None = None, outlines: bool = False) -> dict[str, Any]:
    """Villages; feature ``i`` indexes :func:`village_columns` (popups and colours are made in the page).

    Parameters
    ----------
    study
        The study (village shapes).
    result
        Unused (kept for callers that pass it): the page colours each village from its columns.
    outlines
        Key into the shared outlines instead of embedding the geometry.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection.
    """
    props = [{"i": i} for i in range(len(study.villages))]
    return _outline_fc(study, study.villages.geometry, study.villages["code"], props, outlines)


def supply_layer(study: Study, result: CircleResult, outlines: bool = False) -> dict[str, Any] | None:
    """Villages by access-weighted supply (2SFCA) as a share of the standard (``rate``); ``None`` without one.

    With ``outlines`` the features carry no geometry, only their key into the shared ``outlines.js``.

    Parameters
    ----------
    study
        The study (village shapes).
    result
        The circle's result (``access_supply`` per village, ``summary.supply``).
    outlines
        Key into the shared outlines instead of embedding the geometry.

    Returns
    -------
    dict or None
        A GeoJSON FeatureCollection (``rate``: supply / standard capped at 1, ``acc``: the supply).
    """
    sup = result.summary.get("supply")
    vt = result.villages
    if not sup or "access_supply" not in vt or not sup.get("target"):
        return None
    target = float(sup["target"])
    acc = pd.to_numeric(vt["access_supply"], errors="coerce").to_numpy(dtype=float)
    rate = _shares(np.minimum(acc / target, 1.0))
    props = [{"i": i, "rate": r, "acc": a} for i, (r, a) in enumerate(zip(rate, _nums(acc, 2)))]
    return _outline_fc(study, study.villages.geometry, study.villages["code"], props, outlines)


def sensitivity_layer(study: Study, result: CircleResult, outlines: bool = False) -> dict[str, Any] | None:
    """Villages by speed sensitivity (a run with ``--speeds``): robust / fragile / not covered; ``None`` without.

    Feature properties: ``i`` (the village), ``c`` the class (``robust``, ``fragile``, ``not_covered`` or
    ``no_data``) and ``s`` the covered share at each speed of :func:`sensitivity_info` (cut, ``None``: no data).
    """
    sens = result.sensitivity
    if sens is None:
        return None
    vt = sens.villages
    cols = [c for c in vt.columns if c.startswith("covered_share_") and c.endswith("kmh")]
    shares = [_shares(pd.to_numeric(vt[c], errors="coerce").to_numpy(dtype=float)) for c in cols]
    cls = vt["speed_class"].astype(str).tolist()
    props = [{"i": i, "c": c, "s": [s[i] for s in shares]} for i, c in enumerate(cls)]
    return _outline_fc(study, study.villages.geometry, study.villages["code"], props, outlines)


def sensitivity_info(result: CircleResult) -> dict[str, Any] | None:
    """Return the page's key to :func:`sensitivity_layer`: the speeds (km/h), the class names and colours."""
    from .common import SENS_COLOURS

    sens = result.sensitivity
    if sens is None:
        return None
    return {
        "speeds": [float(s) for s in sens.speeds_kmh],
        "zh": dict(SPEED_CLASS_ZH),
        "en": {"robust": "robust", "fragile": "fragile", "not_covered": "not covered", "no_data": "no data"},
        "colours": dict(SENS_COLOURS),
    }


def facilities_layer(result: CircleResult) -> dict[str, Any]:
    """Facility points: ``n`` name, ``id``, ``k`` kind, ``src`` source (escaped), ``on`` on the network.

    For a circle that counts capacities, ``cap`` is the facility's capacity in the circle's unit
    (:func:`circle_info` ``cu``), ``null`` when unknown; other circles' points have no ``cap``.
    """
    f = result.facilities
    xy = np.round(shapely.get_coordinates(f.geometry.to_numpy()), 6) if len(f) else np.zeros((0, 2))

    def col(name: str) -> list[str]:
        return _texts(f[name]) if name in f else [""] * len(f)

    counted = bool(result.circle.capacity) and "capacity" in f
    caps = _nums(f["capacity"], 1) if counted else [None] * len(f)
    feats = [
        {
            "type": "Feature",
            "properties": {"n": n, "id": i, "k": k, "src": s, "on": bool(on >= 0), **({"cap": cap} if counted else {})},
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
        }
        for (x, y), n, i, k, s, on, cap in zip(
            xy, col("name"), col("facility_id"), col("kind"), col("source"), result.facility_node, caps
        )
    ]
    return {"type": "FeatureCollection", "features": feats}


_CAND_HIDDEN = {
    "site_id", "source", "name", "lon", "lat", "lon_gcj02", "lat_gcj02", "town_code", "town_name", "village_code",
    "village_name", "road_name", "node", "snap_m", "new_population", "new_villages_covered",
    "new_villages_covered_names", "villages_reached_names", "villages_reached", "cum_new_population",
    "cum_covered_population", "cum_covered_share", "cum_villages_covered", "cum_village_pass_rate", "capacity",
    "capacity_unit", "capacity_source", "method", "synthetic", "rank",
}  # fmt: skip


def candidate_name(row: pd.Series | dict[str, Any], village_names: dict[str, str] | None = None) -> str:
    """Return a candidate's readable name (raw text): its ``name``, else "<镇街><村> 附近 #rank".

    Parameters
    ----------
    row
        One row of ``candidates.csv`` (as read by :func:`read_candidates`).
    village_names
        Village code -> name, for the fallback when the row has no ``village_name``.

    Returns
    -------
    str
        Never empty, never "nan".
    """

    def text(k: str) -> str:
        v = row.get(k)
        s = "" if v is None or (isinstance(v, float) and v != v) else str(v).strip()
        return "" if s in MISSING_TEXT else s

    if text("name"):
        return text("name")
    village = text("village_name") or (village_names or {}).get(text("village_code"), "")
    return f"{text('town_name')}{village} 附近 #{text('rank') or '?'}"


def villages_reached_text(row: dict[str, Any], village_names: dict[str, str] | None = None) -> str:
    """Return the villages a site reaches as people read them (raw text): ``竹塘村 22,417 人；…``.

    The ``villages_reached_names`` column when it is given, else the names of ``villages_reached``
    (``code:people;…``) looked up in ``village_names``; ``""`` when neither is.
    """

    def text(k: str) -> str:
        v = row.get(k)
        s = "" if v is None or (isinstance(v, float) and v != v) else str(v).strip()
        return "" if s in MISSING_TEXT else s

    if text("villages_reached_names"):
        return text("villages_reached_names")
    out = []
    for part in text("villages_reached").split(";"):
        code, _, people = part.partition(":")
        try:
            n = float(people)
        except ValueError:
            continue
        name = (village_names or {}).get(code.strip(), code.strip())
        out.append(f"{name} {n:,.0f} 人" if n >= 0.5 else f"{name} <1 人")
    return "；".join(out)


#: The supply columns of a candidate popup: label (Chinese first), and whether the value is a share.
_CAND_SUPPLY = (
    ("town_deficit_before", "镇街供给缺口(选址前) town deficit before", False),
    ("deficit_closed", "本点填补缺口 deficit closed by the site", False),
    ("deficit_closed_share", "本点填补缺口占比 share of the town's deficit", True),
    ("town_deficit_closed_cum", "镇街累计填补缺口 town deficit closed so far", False),
    ("town_deficit_closed_cum_share", "镇街累计填补占比 share closed so far", True),
    ("town_deficit_after", "镇街剩余缺口(全部选址后) town deficit left", False),
)


def candidates_layer(
    cands: pd.DataFrame, village_names: dict[str, str] | None = None, unit: str = ""
) -> dict[str, Any]:
    """Ranked candidate sites (``candidates.csv`` of ``dgcoverage site``), as numbered points.

    The popup reads as information, Chinese first: the site's name (:func:`candidate_name`), the villages
    whose people it would reach (``竹塘村 22,417 人；…``, :func:`villages_reached_text`), the newly covered
    people and villages, its capacity with its unit (``未给出 not given`` without one), its town's supply status
    in words (``未达标 fail``) and the deficits with their unit (``床`` or ``m²``), and any other column the
    siting step added; empty values show as ``—``.

    Parameters
    ----------
    cands
        The table read by :func:`read_candidates` (text cells).
    village_names
        Village code -> name, for unnamed candidates and for ``villages_reached`` codes.
    unit
        The unit of the circle's supply amounts (``床``, ``m²``), for the deficits and the capacity.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection (``rank``, ``tip``, ``pop``).
    """
    lon = pd.to_numeric(cands["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(cands["lat"], errors="coerce").to_numpy(dtype=float)
    geoms = list(shapely.points(np.round(lon, 6), np.round(lat, 6)))
    shown = {k for k, _, _ in _CAND_SUPPLY} | {"town_supply_status", "town_supply_status_zh"}
    extra = [c for c in cands.columns if c not in _CAND_HIDDEN and c not in shown]
    heads = {**{k: f"{k} {v}" for k, v in LABELS_ZH.items()}, **cands.attrs.get("labels", {})}
    props = []
    for r in cands.to_dict("records"):
        rank = _fmt(r.get("rank"), nd=0)
        name = e(candidate_name(r, village_names))

        def t(k: str, r: dict[str, Any] = r) -> str:
            return _texts([r.get(k)])[0] or "—"

        def amount(v: Any, u: str = unit) -> str:
            n = _fmt(v, nd=0)
            return f"{n} {u}".strip() if n != "—" else "—"

        people = _fmt(r.get("new_population"), nd=0)
        rows = [
            ("排名 rank", rank),
            ("名称 name", name),
            ("镇街 town", t("town_name")),
            ("所在村(社区) village", t("village_name")),
            ("最近道路 road", t("road_name")),
            ("新增覆盖人口 people newly within reach", f"{people} 人" if people != "—" else "—"),
            ("惠及村(社区) villages it would serve", e(villages_reached_text(r, village_names)) or "—"),
            ("新达标村(社区) villages newly covered", t("new_villages_covered_names")),
            ("累计覆盖率 cumulative share covered", _fmt(r.get("cum_covered_share"), pct=True)),
        ]
        if "capacity" in cands:
            u = UNIT_SHOW.get(_texts([r.get("capacity_unit")])[0], unit)
            cap = amount(r.get("capacity"), u)
            rows.append(("规模 capacity", cap if cap != "—" else "未给出 not given"))
        if "town_supply_status" in cands:
            st = _texts([r.get("town_supply_status")])[0]
            rows.append(("镇街供给状态 town supply status", e(SUPPLY_STATUS_SHOW.get(st, st)) or "—"))
        for k, label, share in _CAND_SUPPLY:
            if k in cands:
                rows.append((label, _fmt(r.get(k), pct=True) if share else amount(r.get(k))))
        for k in extra:
            cid, _, zh = heads.get(k, k).partition(" ")
            label = e(f"{zh} {cid}" if zh else cid)  # Chinese first
            pct = k.endswith(("_share", "_rate"))
            rows.append((label, _fmt(r.get(k), pct=pct, nd=1)))
        gcj = (_fmt(r.get("lon_gcj02"), nd=6), _fmt(r.get("lat_gcj02"), nd=6))
        rows.append(("GCJ-02 (高德)", f"{gcj[0]}, {gcj[1]}"))
        props.append(
            {
                "tip": ("" if name.endswith(f"#{rank}") else f"#{rank} ") + f"{name} +{people} 人",
                "pop": _table(rows),
                "rank": rank,
            }
        )
    return _fc(geoms, props)


def read_candidates(out_dir: str | Path, circle_id: str) -> pd.DataFrame | None:
    """Read the ranked sites written by ``dgcoverage site`` for a circle, or ``None`` if there are none.

    Parameters
    ----------
    out_dir
        The output folder (``<out_dir>/<circle_id>/candidates.csv``).
    circle_id
        The circle.

    Returns
    -------
    pandas.DataFrame or None
        Text cells keyed by the English column ids.
    """
    path = Path(out_dir) / circle_id / "candidates.csv"
    df = read_output_csv(path)
    if df is not None:  # keep the bilingual headers ("id 中文") to label columns the siting step added
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
        df.attrs["labels"] = {str(h).split(" ")[0]: str(h) for h in header}
    return df


def service_area_layer(study: Study, sa: gpd.GeoDataFrame, result: CircleResult) -> dict[str, Any]:
    """Draw the service area (reached streets plus the affordable walk): ``a`` = area in km²."""
    props = [{"a": a} for a in _nums(sa["area_km2"], 1)] if "area_km2" in sa else [{} for _ in range(len(sa))]
    return _fc(_display(sa.geometry, study.graph.crs, nd=5, topology=False), props)


def gaps_layer(study: Study, gp: gpd.GeoDataFrame) -> dict[str, Any]:
    """Gap areas: populated cells beyond the limit, per village, with their people (escaped names, numbers)."""
    props = [
        {"n": n, "c": c, "t": t, "p": p, "b": b, "u": u, "o": o}
        for n, c, t, p, b, u, o in zip(
            _texts(gp["name"]),
            _texts(gp["code"]),
            _texts(gp["town_name"]),
            _nums(gp["population"], 1),
            _nums(gp["population_beyond_limit"], 0),
            _nums(gp["population_unreachable"], 0),
            _nums(gp["population_off_network"], 0),
        )
    ]
    return _fc(_display(gp.geometry, study.graph.crs, nd=5), props)
