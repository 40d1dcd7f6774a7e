r"""Display geometry as GeoJSON text, the page data encoder and the shared outlines script (``outlines.js``).

Display geometry is simplified (:data:`~.common.SIMPLIFY_M` m) and rounded to 6 decimals (outlines) or 5 decimals
(~1 m: service and gap areas, drawn from a 100 m grid).  The page data is JSON with every ``<`` written
``\u003c`` (:func:`_json_script`), so no string can close the ``<script>`` element.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .common import SIMPLIFY_M

if TYPE_CHECKING:  # pragma: no cover
    from ...pipeline.study import Study


def _display(
    geoms: Sequence[Any], crs: Any, tol_m: float = SIMPLIFY_M, nd: int = 6, topology: bool = True
) -> list[Any]:
    """Simplify in the projected CRS, back to WGS84, coordinates rounded to ``nd`` decimals.

    ``topology=False``: plain Douglas-Peucker (about 30 times faster on a city-wide service area; for
    display only, where a rare self-touching ring does not matter).
    """
    s = gpd.GeoSeries(list(geoms), crs=4326)
    ok = (s.notna() & ~s.is_empty).to_numpy()
    out: list[Any] = [None] * len(s)
    if ok.any():
        p = s[ok].to_crs(crs).simplify(tol_m, preserve_topology=topology).to_crs(4326)
        p = shapely.transform(p.to_numpy(), lambda c: np.round(c, nd))
        for i, g in zip(np.flatnonzero(ok), p):
            out[i] = g
    return out


class RawJSON:
    """GeoJSON text written by shapely, placed into the page JSON as is by :func:`_json_script`.

    Saves parsing and re-writing every coordinate (the text holds only numbers, brackets and keys).
    """

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def to_obj(self) -> Any:
        """Return the parsed JSON value (for tests and callers that need the object)."""
        return json.loads(self.text)


def _geojson(geoms: Sequence[Any]) -> list[RawJSON | None]:
    """GeoJSON geometries (vectorised writer) as :class:`RawJSON`, ``None`` for missing/empty ones."""
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    ok = np.array(_has_geom(arr), dtype=bool)
    out: list[RawJSON | None] = [None] * len(arr)
    if ok.any():
        for i, txt in zip(np.flatnonzero(ok), shapely.to_geojson(arr[ok])):
            out[i] = RawJSON(txt)
    return out


def _fc(geoms: Sequence[Any], props: Sequence[dict[str, Any]]) -> dict[str, Any]:
    feats = [
        {"type": "Feature", "properties": p, "geometry": g} for g, p in zip(_geojson(geoms), props) if g is not None
    ]
    return {"type": "FeatureCollection", "features": feats}


def _keys(codes: Sequence[Any]) -> list[str]:
    """Join keys from codes: the code as text, repeats made unique as ``code#2``, ``code#3`` (deterministic)."""
    seen: dict[str, int] = {}
    out = []
    for c in codes:
        k = str(c)
        seen[k] = seen.get(k, 0) + 1
        out.append(k if seen[k] == 1 else f"{k}#{seen[k]}")
    return out


def _has_geom(geoms: Sequence[Any]) -> list[bool]:
    return [g is not None and not shapely.is_missing(g) and not g.is_empty for g in geoms]


def _outline_fc(
    study: Study, geoms: gpd.GeoSeries, codes: Sequence[Any], props: Sequence[dict[str, Any]], outlines: bool
) -> dict[str, Any]:
    """Embed the displayed geometry, or (``outlines``) only the keys into the shared ``outlines.js``."""
    if outlines:
        feats = [
            {"type": "Feature", "id": k, "properties": p, "geometry": None}
            for k, ok, p in zip(_keys(codes), _has_geom(list(geoms)), props)
            if ok
        ]
        return {"type": "FeatureCollection", "features": feats}
    return _fc(_display(geoms, study.graph.crs), props)


def _towns_drawn(study: Study) -> pd.DataFrame:
    return study.towns[study.towns["has_polygon"]].reset_index(drop=True)


def _label_points(geoms: Sequence[Any]) -> list[list[float] | None]:
    """Return a point inside each shape (for labels and popups), ``[lon, lat]`` to 5 decimals, ``None`` if none."""
    arr = np.array(list(geoms), dtype=object)
    ok = np.array(_has_geom(arr), dtype=bool)
    out: list[list[float] | None] = [None] * len(arr)
    if ok.any():
        pts = shapely.point_on_surface(arr[ok])
        xy = np.round(shapely.get_coordinates(pts), 5)
        for i, (x, y) in zip(np.flatnonzero(ok), xy):
            out[i] = [float(x), float(y)]
    return out


def _centre(study: Study) -> tuple[float, float]:
    b = study.towns[study.towns["has_polygon"]].total_bounds
    return ((b[1] + b[3]) / 2, (b[0] + b[2]) / 2)


def _json_script(obj: Any) -> str:
    r"""JSON for a ``<script type="application/json">`` element.

    Every ``<`` is written as the JSON escape ``\u003c`` (outside strings JSON has no ``<``), so no
    string can close the element (``</script>``) or open a script-data escape (``<!--``), and
    ``JSON.parse`` gives back the exact text.
    """
    raws: list[str] = []
    nonce = secrets.token_hex(8)  # placeholders no data string can forge

    def raw(o: Any) -> str:
        if isinstance(o, RawJSON):
            raws.append(o.text)
            return f"\0{nonce}:{len(raws) - 1}\0"
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")

    txt = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=raw)
    if raws:
        ref = re.compile(r'"\\u0000' + nonce + r':(\d+)\\u0000"')
        txt = ref.sub(lambda m: raws[int(m.group(1))], txt)
    return txt.replace("<", "\\u003c")


def outlines_js(study: Study) -> str:
    r"""Return the shared outlines script: ``window.DG_OUTLINES = {villages: [[key, geometry], ...], towns: ...}``.

    Geometry is displayed as in the pages (simplified :data:`SIMPLIFY_M` m, 6 decimals); keys are the
    village and town codes (:func:`_keys`).  The JSON is written with ``<``, U+2028 and U+2029 as
    ``\u`` escapes, so it is a valid script literal that no string can break out of; it is a list of
    pairs (not an object), so no code can touch ``__proto__``.

    Parameters
    ----------
    study
        The loaded study (its villages and towns).

    Returns
    -------
    str
        The text of ``outlines.js``.
    """
    t = _towns_drawn(study)

    def pairs(codes: Sequence[Any], geoms: Sequence[Any]) -> list[list[Any]]:
        gj = _geojson(_display(geoms, study.graph.crs))
        return [[k, g] for k, g in zip(_keys(codes), gj) if g is not None]

    data = {
        "villages": pairs(study.villages["code"], study.villages.geometry),
        "towns": pairs(t["town_code"], t.geometry),
    }
    txt = _json_script(data).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return (
        "/* dgcoverage: village and town outlines shared by the map pages in this folder */\nwindow.DG_OUTLINES = "
        + txt
        + ";\n"
    )
