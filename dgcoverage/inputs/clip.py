"""The ``--clip`` area of a road file.

Parsed from the option and read from a polygon file and checked, or the study's towns buffered by the longest
reach of the circles run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DgCoverageError
from .preflight import check_degrees


def parse_clip(value: str | None) -> tuple[str, Any]:
    """Parse ``--clip``: ``("auto", None)``, ``("none", None)``, ``("bbox", (W, S, E, N))`` or ``("file", Path)``.

    Parameters
    ----------
    value
        The option's text (``None``: not given, which counts as ``auto``).

    Returns
    -------
    tuple
        The kind and its value.

    Raises
    ------
    DgCoverageError
        A malformed bounding box or a missing polygon file (one line, exit 2).
    """
    text = "auto" if value is None else value.strip()
    if text.lower() in ("auto", "none"):
        return text.lower(), None
    if "," in text and not Path(text).exists():
        try:
            w, s, e, n = (float(c) for c in text.split(","))
        except ValueError:
            raise DgCoverageError(
                f"--clip {value!r}: a bounding box is four numbers W,S,E,N in degrees, e.g. 113.5,22.6,114.3,23.2"
            ) from None
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise DgCoverageError(
                f"--clip {value!r}: need west < east within -180..180 and south < north within -90..90 (degrees)"
            )
        return "bbox", (w, s, e, n)
    path = Path(text)
    if not path.is_file():
        raise DgCoverageError(
            f"--clip {value!r}: not auto, none, a bounding box W,S,E,N or an existing polygon file (GeoJSON)"
        )
    return "file", path


def clip_polygon_file(path: Path) -> Any:
    """Read a polygon file (any CRS geopandas reads; WGS84 when undeclared) as one WGS84 (Multi)Polygon.

    Coordinates beyond degrees (``|x| > 180``, ``|y| > 90``) in a file that declares no projected CRS are
    refused as metres (:func:`~.preflight.check_degrees`), not taken as an area no road lies in.
    """
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input
        raise DgCoverageError(f"--clip {path}: cannot read it as a polygon file: {exc}") from None
    if len(gdf) and (gdf.crs is None or gdf.crs.is_geographic):  # GeoJSON is read as WGS84 unless it says
        check_degrees(gdf.total_bounds, f"--clip {path}: the clip polygon")
    if gdf.crs is not None:
        gdf = gdf.to_crs("EPSG:4326")
    geom = gdf.geometry.union_all() if len(gdf) else None
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise DgCoverageError(f"--clip {path}: holds no polygon (need Polygon or MultiPolygon features)")
    return geom


def circle_reach_m(circles: Sequence[Any]) -> float:
    """Return the longest network reach of the circles in metres: minutes x speed (30 min at 12 km/h -> 6,000 m)."""
    return max((float(c.minutes) * float(c.speed_kmh) * 1000.0 / 60.0 for c in circles), default=0.0)


def buffered_towns(towns: Any, reach_m: float, tolerance_m: float = 100.0) -> Any:
    """Return the towns' union buffered by ``reach_m`` metres, as one WGS84 (Multi)Polygon.

    The union is buffered in its UTM zone by ``reach_m + tolerance_m`` and then
    simplified by ``tolerance_m``, so the result is light to test points
    against and still contains every point within ``reach_m`` of a town.
    """
    import geopandas as gpd

    towns = towns[towns["has_polygon"]] if "has_polygon" in towns else towns
    utm = towns.estimate_utm_crs()
    area = towns.to_crs(utm).geometry.union_all().buffer(reach_m + tolerance_m).simplify(tolerance_m)
    return gpd.GeoSeries([area], crs=utm).to_crs("EPSG:4326").iloc[0]
