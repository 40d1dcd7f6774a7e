"""The planner list: where each ranked site lies, what it is called and what it adds.

:func:`rank_table` walks the chosen sites in rank order and tabulates, per site, the people and villages
(村/社区) it newly covers, the cumulative coverage and village pass rate, the village and town it lies in and
a readable name (:func:`site_names`: the file's name, else the nearest named road, else the village).
:func:`supply_columns` adds, for circles with a supply standard, how much of each town's deficit the sites
close (:func:`deficit_closure`) and the ``supply`` part of ``siting_summary.json``.  Used by
:func:`dgcoverage.pipeline.sites.plan_sites`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ..compute.access import REACHED, project_lonlat
from ..compute.supply import SUPPLY_STATUS_ZH
from ..inputs.candidates import cell_text
from ..inputs.coords import from_wgs84

if TYPE_CHECKING:  # pragma: no cover
    from .study import CandidateSet, CircleResult, Study


def assign_polygons(crs: Any, polygons: Any, lon: np.ndarray, lat: np.ndarray, max_m: float) -> np.ndarray:
    """Polygon index of each point: the containing polygon, else the nearest within ``max_m``; ``-1`` if none."""
    out = np.full(lon.shape[0], -1, dtype=np.int64)
    if len(polygons) == 0 or lon.size == 0:
        return out
    polys = polygons.to_crs(crs).to_numpy()
    x, y = project_lonlat(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), crs)
    pts = shapely.points(x, y)
    tree = shapely.STRtree(polys)
    pi, gi = tree.query(pts, predicate="intersects")
    first = np.ones(pi.size, dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = gi[first]
    miss = np.nonzero(out < 0)[0]
    if miss.size:
        pi, gi = tree.query_nearest(pts[miss], max_distance=max_m, all_matches=False)
        out[miss[pi]] = gi
    return out


def site_villages(study: Study, lon: np.ndarray, lat: np.ndarray, max_m: float = 3000.0) -> np.ndarray:
    """Village row (of ``study.villages``) each site lies in, else the nearest within ``max_m``; ``-1`` if none."""
    v = study.villages
    geom = v.geometry
    ok = v["has_area"].to_numpy().astype(bool) & geom.notna().to_numpy() & ~geom.is_empty.to_numpy()
    idx = np.nonzero(ok)[0]
    got = assign_polygons(study.graph.crs, geom.iloc[idx], lon, lat, max_m)
    return np.where(got >= 0, idx[np.maximum(got, 0)], -1)


def site_names(given: Any, road: Any, town: Any, village: Any, rank: Any) -> list[str]:
    """Readable site names: the file's name, else ``"<road> 旁（<村>）"``, else ``"<镇街><村> 附近 #<rank>"``.

    Parameters
    ----------
    given, road, town, village
        Per site: the name given in the candidate file, the nearest road's name,
        the town (镇街) and the village (村/社区) the site lies in or is nearest to
        (empty when unknown).
    rank
        The site's rank in the planner list.

    Returns
    -------
    list of str
        Never empty and never the text "nan".
    """
    out = []
    for g, r, t, v, k in zip(given, road, town, village, rank, strict=True):
        g, r, t, v = cell_text(g), cell_text(r), cell_text(t), cell_text(v)
        if g:
            out.append(g)
        elif r:
            out.append(f"{r} 旁（{t}{v}）" if v or t else f"{r} 旁")
        elif t or v:
            out.append(f"{t}{v} 附近 #{int(k)}")
        else:
            out.append(f"候选点 site #{int(k)}")
    return out


def node_road_names(net: Any, nodes: np.ndarray) -> np.ndarray:
    """Return a street name at each node (first named edge leaving or entering it), ``""`` if unknown."""
    out = np.full(nodes.shape[0], "", dtype=object)
    if net.name is None:
        return out
    named = net.name != ""
    if not named.any():
        return out
    ends = np.concatenate([net.u[named], net.v[named]])
    names = np.concatenate([net.name[named], net.name[named]])
    o = np.argsort(ends, kind="stable")
    ends, names = ends[o], names[o]
    pos = np.searchsorted(ends, nodes)
    hit = (pos < ends.size) & (ends[np.minimum(pos, ends.size - 1)] == nodes)
    out[hit] = names[pos[hit]]
    return out


def rank_table(
    study: Study, base: CircleResult, cands: CandidateSet, A: Any, dem: np.ndarray, order: list[int], method: str
) -> pd.DataFrame:
    """Tabulate the chosen sites in rank order: where they lie, their names and what each adds.

    Parameters
    ----------
    study, base
        The study and the circle measured with the existing facilities.
    cands
        The candidate sites (rows of ``A``).
    A
        Coverage matrix (CSR, candidate x demand cell) of the uncovered demand cells ``dem``.
    dem
        Indices of the uncovered demand cells (columns of ``A``).
    order
        Rows of ``cands.table`` chosen, in rank order.
    method
        The listed solution (``method`` column).

    Returns
    -------
    pandas.DataFrame
        One row per site: ids, WGS84 and GCJ-02 coordinates, town, village, road, a readable name,
        newly covered people and villages, and the cumulative coverage and village pass rate.
    """
    circle = base.circle
    tab = cands.table.iloc[order].reset_index(drop=True)
    nv = len(study.villages)
    inv = study.cell_village >= 0
    vpop = np.bincount(study.cell_village[inv], weights=study.cell_pop[inv], minlength=nv)
    reach0 = inv & (base.cell_class == REACHED)
    vreach = np.bincount(study.cell_village[reach0], weights=study.cell_pop[reach0], minlength=nv)
    has_area = study.villages["has_area"].to_numpy().astype(bool)
    with_data = has_area & (vpop > 0)
    thr = circle.covered_min_share - 1e-12

    def vcovered(r: np.ndarray) -> np.ndarray:
        return with_data & (r >= thr * np.where(vpop > 0, vpop, 1))

    was = vcovered(vreach)
    vname = np.array([cell_text(x) or "?" for x in study.villages["name"]], dtype=object)
    vcode = np.array([cell_text(x) for x in study.villages["code"]], dtype=object)
    pop_total = float(study.cell_pop.sum())
    cum_cov = float(study.cell_pop[base.cell_class == REACHED].sum())
    covered = np.zeros(dem.size, dtype=bool)
    ptr, ind = A.indptr, A.indices
    rows: list[dict[str, Any]] = []
    cum_new = 0.0
    for rank, j in enumerate(order, start=1):
        cols = ind[ptr[j] : ptr[j + 1]]
        new = cols[~covered[cols]]
        covered[new] = True
        cells = dem[new]
        pop_new = float(study.cell_pop[cells].sum())
        cum_new += pop_new
        cum_cov += pop_new
        cv = study.cell_village[cells]
        okv = cv >= 0
        add = np.bincount(cv[okv], weights=study.cell_pop[cells][okv], minlength=nv)
        vreach = vreach + add
        now = vcovered(vreach)
        flipped = np.nonzero(now & ~was)[0]
        was = now
        reached = np.nonzero(add > 0)[0]
        reached = reached[np.argsort(-add[reached], kind="stable")]
        rows.append(
            {
                "rank": rank,
                "new_population": round(pop_new, 1),
                "new_villages_covered": int(flipped.size),
                "new_villages_covered_names": "、".join(vname[flipped]),
                "villages_reached_names": "；".join(f"{vname[i]} {_people(add[i])} 人" for i in reached),
                "villages_reached": ";".join(f"{vcode[i]}:{add[i]:.1f}" for i in reached),
                "cum_new_population": round(cum_new, 1),
                "cum_covered_population": round(cum_cov, 1),
                "cum_covered_share": cum_cov / pop_total if pop_total else np.nan,
                "cum_villages_covered": int(now.sum()),
                "cum_village_pass_rate": float(now.sum() / max(int(with_data.sum()), 1)),
            }
        )
    nodes = tab["node"].to_numpy().astype(np.int64)
    glon, glat = from_wgs84(tab["lon"].to_numpy(), tab["lat"].to_numpy(), "gcj02")
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(tab) + 1),
            "site_id": tab["site_id"].to_numpy(),
            "source": tab["source"].to_numpy(),
            "name": tab["name"].to_numpy(),  # the readable name is set below, once ranks and roads are known
            "lon": np.round(tab["lon"].to_numpy(), 7),
            "lat": np.round(tab["lat"].to_numpy(), 7),
            "lon_gcj02": np.round(np.atleast_1d(glon), 7),
            "lat_gcj02": np.round(np.atleast_1d(glat), 7),
            "town_code": tab["town_code"].to_numpy(),
            "town_name": tab["town_name"].to_numpy(),
            "road_name": node_road_names(study.net, nodes),
            "node": nodes,
            "snap_m": np.round(tab["snap_m"].to_numpy(), 1),
        }
    )
    sv = site_villages(study, tab["lon"].to_numpy(), tab["lat"].to_numpy())
    has_v = sv >= 0
    v_town = np.where(has_v, study.villages["town_name"].to_numpy()[np.maximum(sv, 0)], tab["town_name"].to_numpy())
    out["name"] = site_names(
        tab["name"], out["road_name"], v_town, np.where(has_v, vname[np.maximum(sv, 0)], ""), out["rank"]
    )
    at = out.columns.get_loc("town_name") + 1
    out.insert(at, "village_code", np.where(has_v, vcode[np.maximum(sv, 0)], ""))
    out.insert(at + 1, "village_name", np.where(has_v, vname[np.maximum(sv, 0)], ""))
    if rows:
        out = pd.concat([out, pd.DataFrame(rows).drop(columns="rank")], axis=1)
    else:
        for c in (
            "new_population",
            "new_villages_covered",
            "new_villages_covered_names",
            "villages_reached_names",
            "villages_reached",
            "cum_new_population",
            "cum_covered_population",
            "cum_covered_share",
            "cum_villages_covered",
            "cum_village_pass_rate",
        ):
            out[c] = pd.Series(dtype=float)
    out["method"] = method
    out["synthetic"] = bool(base.summary.get("synthetic"))
    return out


SUPPLY_COLUMNS = (
    "capacity",
    "capacity_unit",
    "capacity_source",
    "town_supply_status",
    "town_supply_status_zh",
    "town_deficit_before",
    "deficit_closed",
    "deficit_closed_share",
    "town_deficit_closed_cum",
    "town_deficit_closed_cum_share",
    "town_deficit_after",
)


def deficit_closure(town_code: Any, capacity: Any, deficit_before: Any) -> pd.DataFrame:
    """How much of each town's supply deficit a ranked list of new sites closes, site by site.

    Walking the list in rank order, a site closes ``min(its capacity, what is
    still missing in its town)``: the first sites of a town close its deficit
    first, and nothing is closed beyond it (a surplus is not a deficit closed).

    Parameters
    ----------
    town_code
        Town (镇街) code of each site, in rank order.
    capacity
        Size of each site (m² or beds); NaN = not given: the site closes an
        unknown amount, its own columns are empty and it adds nothing to its
        town's cumulative figures (which are then lower bounds).
    deficit_before
        The town's deficit before any new site (m² or beds, from the base run's
        supply ratios; NaN = unknown, e.g. a town without people).

    Returns
    -------
    pandas.DataFrame
        Per site: ``deficit_closed``, ``deficit_closed_share`` (of the town's
        deficit before; NaN when that is 0 or unknown), ``town_deficit_closed_cum``
        and ``town_deficit_closed_cum_share`` (this and the earlier sites of the
        town), and ``town_deficit_after`` (the town's deficit left after the whole
        list; NaN when no site of the town has a size).
    """
    town = np.asarray(town_code, dtype=object).reshape(-1)
    cap = np.asarray(capacity, dtype=float).reshape(-1)
    before = np.asarray(deficit_before, dtype=float).reshape(-1)
    n = town.size
    closed = np.full(n, np.nan)
    cum = np.full(n, np.nan)
    left: dict[Any, float] = {}
    done: dict[Any, float] = {}
    for i in range(n):
        t = town[i]
        if not np.isfinite(before[i]):
            continue
        rem = left.setdefault(t, float(before[i]))
        if np.isfinite(cap[i]):
            closed[i] = min(cap[i], rem)
            left[t] = rem - closed[i]
            done[t] = done.get(t, 0.0) + closed[i]
            cum[i] = done[t]
    after = np.array([left[t] if t in done else np.nan for t in town], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(before > 0, before, np.nan)
        return pd.DataFrame(
            {
                "deficit_closed": closed,
                "deficit_closed_share": closed / safe,
                "town_deficit_closed_cum": cum,
                "town_deficit_closed_cum_share": cum / safe,
                "town_deficit_after": after,
            }
        )


def supply_columns(
    base: CircleResult, table: pd.DataFrame, cands: CandidateSet, order: list[int]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the supply columns of the planner list and ``siting_summary.json`` → ``supply``."""
    circle = base.circle
    sup = base.summary.get("supply") or {}
    towns = base.towns
    if not circle.has_supply or "deficit" not in towns.columns:
        return pd.DataFrame(index=table.index), {
            "standard": None,
            "note": f"{circle.id} has no supply standard measured (no capacity/supply_target): sizes are not used",
        }
    unit = "m2" if circle.capacity == "area_m2" else "beds"
    tt = towns.assign(town_code=towns["town_code"].astype(str)).set_index("town_code")
    code = table["town_code"].astype(str)
    before = code.map(tt["deficit"]).to_numpy(dtype=float)
    status = code.map(tt["supply_status"]).fillna("").astype(str).to_numpy()
    ordered = cands.table.iloc[order].reset_index(drop=True).set_index(table.index)
    cap = ordered["capacity"].to_numpy(dtype=float) if "capacity" in ordered else np.full(len(table), np.nan)
    src = ordered["capacity_source"].map(cell_text) if "capacity_source" in ordered else ""
    given = np.isfinite(cap)
    cols = pd.DataFrame(
        {
            "capacity": cap,
            "capacity_unit": np.where(given, unit, ""),
            "capacity_source": src,
            "town_supply_status": status,
            "town_supply_status_zh": [SUPPLY_STATUS_ZH.get(x, "") for x in status],  # readable, beside the id
            "town_deficit_before": before,
        },
        index=table.index,
    )
    cols = pd.concat([cols, deficit_closure(code.to_numpy(), cap, before).set_index(table.index)], axis=1)
    info = cands.capacity
    summary: dict[str, Any] = {
        "standard": sup.get("indicator") or circle.supply_indicator,
        "source": sup.get("source") or circle.supply_source,
        "unit": unit,
        "ratio_unit": sup.get("ratio_unit"),
        "capacity": "given" if given.any() or info.get("site_capacity") is not None else "capacity not given",
        "site_capacity": info.get("site_capacity"),
        "candidate_file_capacity_column": info.get("column"),
        "sites_with_capacity": int(given.sum()),
        "sites_capacity_not_given": int((~given).sum()),
    }
    sized = summary["capacity"] == "given"
    if not sized:
        summary["note"] = (
            "capacity not given: pass --site-capacity N (in "
            + unit
            + ") or a capacity column in --candidates to see how much of each town's deficit the sites close"
        )
    rows = []
    for t in dict.fromkeys(code.tolist()):
        m = (code == t).to_numpy()
        b = float(before[m][0])
        closed = cols["deficit_closed"].to_numpy()[m]
        rows.append(
            {
                "town_code": t,
                "town_name": cell_text(table["town_name"].to_numpy()[m][0]),
                "supply_status": cell_text(status[m][0]),
                "deficit_before": _rnd(b),
                "sites": int(m.sum()),
                "capacity_added": _rnd(float(np.nansum(cap[m]))) if given[m].any() else None,
                "deficit_closed": _rnd(float(np.nansum(closed))) if given[m].any() and np.isfinite(b) else None,
                "deficit_after": _rnd(b - float(np.nansum(closed))) if given[m].any() and np.isfinite(b) else None,
            }
        )
    summary["towns"] = rows
    if base.city_code in tt.index:
        city_before = float(tt.loc[base.city_code, "deficit"])
        added = float(np.nansum(cap))
        summary["city"] = {
            "deficit_before": _rnd(city_before),
            "capacity_added": _rnd(added) if sized else None,
            "deficit_after": _rnd(max(0.0, city_before - added)) if sized and np.isfinite(city_before) else None,
        }
    summary["deficit_closed_total"] = _rnd(float(np.nansum(cols["deficit_closed"].to_numpy()))) if sized else None
    summary["definitions"] = {
        "town_deficit_before": "the town's deficit in the base run (towns.csv deficit: max(0, target x people - known "
        "supply); an upper bound where the town has facilities of unknown capacity)",
        "deficit_closed": "min(site capacity, the town's deficit still open after the higher-ranked sites of the "
        "town); a site in a town without a deficit closes 0",
        "town_deficit_after": "the town's deficit left after every listed site of the town",
        "city": "the city row nets towns' surpluses against shortfalls (as towns.csv): city deficit after = "
        "max(0, before - all capacity added)",
        "town_of_site": "the town polygon the site lies in (the base run places a facility in the town of its village)",
        "size_not_given": "a site without a size closes an unknown amount: its own columns are empty and it adds "
        "nothing to its town's cumulative figures, which are then lower bounds (deficits left: upper bounds)",
    }
    return cols, summary


def _rnd(x: float, nd: int = 2) -> float | None:
    return round(float(x), nd) if np.isfinite(x) else None


def _people(x: float) -> str:
    """People as a planner reads them: whole, with thousands separators (``"<1"`` for a fraction of one)."""
    return f"{x:,.0f}" if x >= 0.5 else "<1"
