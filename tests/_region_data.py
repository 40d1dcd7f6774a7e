"""A small region that is not Dongguan, built from the real Helsinki OSM extract (tests/input_data).

Three towns (vertical strips over the area the extract's streets cover), nine villages (each town cut in three),
a synthetic population GeoTIFF written here (UTM 35N, 100 m) and three facilities as GeoJSON. ``split`` cuts the
area into several such regions (one per strip) for batch runs. Everything is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

INPUT = Path(__file__).parent / "input_data"
PBF = INPUT / "Helsinki.osm.pbf"
#: The inner part of the extract (its streets are clipped at the edge): W, S, E, N.
BOX = (24.9380, 60.1660, 24.9515, 60.1775)
#: Facilities (lon, lat): a gym north-west, one south-east, one just outside the middle strip's east edge.
FACILITIES = [("gym NW", 24.9405, 60.1750), ("gym SE", 24.9490, 60.1680), ("gym mid", 24.9452, 60.1712)]


def towns_and_villages(box: tuple[float, float, float, float] = BOX, n_towns: int = 3, prefix: str = "HT"):
    """Towns (``code, name, population``) as strips of ``box``, and 3 village polygons per town."""
    w, s, e, n = box
    xs = np.linspace(w, e, n_towns + 1)
    ys = np.linspace(s, n, 4)
    towns, villages = [], []
    for i in range(n_towns):
        tcode = f"{prefix}{i + 1}"
        towns.append(
            {
                "code": tcode,
                "name": f"Town {i + 1}",
                "population": (190, 200, 180, 200)[i % 4],
                "geometry": shapely.box(xs[i], s, xs[i + 1], n),
            }
        )
        for j in range(3):
            villages.append(
                {
                    "code": f"{tcode}-V{j + 1}",
                    "name": f"Village {i + 1}.{j + 1}",
                    "town_code": tcode,
                    "geometry": shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]),
                }
            )
    return gpd.GeoDataFrame(towns, crs=4326), gpd.GeoDataFrame(villages, crs=4326)


def write_population(path: Path, box: tuple[float, float, float, float] = BOX) -> Path:
    """A GeoTIFF of people per 100 m pixel (UTM 35N): 1 + (3 row + 7 col) mod 11 over the box plus 300 m."""
    import rasterio
    from pyproj import Transformer

    tr = Transformer.from_crs(4326, 32635, always_xy=True)
    x0, y0 = tr.transform(box[0], box[1])
    x1, y1 = tr.transform(box[2], box[3])
    left, top = np.floor(min(x0, x1) / 100) * 100 - 300, np.ceil(max(y0, y1) / 100) * 100 + 300
    ncol = int((np.ceil(max(x0, x1) / 100) * 100 + 300 - left) / 100)
    nrow = int((top - (np.floor(min(y0, y1) / 100) * 100 - 300)) / 100)
    r, c = np.mgrid[0:nrow, 0:ncol]
    data = (1 + (3 * r + 7 * c) % 11).astype("float32")
    prof = {
        "driver": "GTiff",
        "width": ncol,
        "height": nrow,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:32635",
        "transform": rasterio.transform.from_origin(left, top, 100, 100),
        "nodata": -1.0,
    }
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(data, 1)
    return path


def write_region(
    root: Path,
    box: tuple[float, float, float, float] = BOX,
    n_towns: int = 3,
    prefix: str = "HT",
    code: str = "HEL",
    name: str = "Helsinki centre",
) -> Path:
    """Write towns.geojson, villages.geojson, population.tif, facilities.geojson and region.toml into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    towns, villages = towns_and_villages(box, n_towns, prefix)
    towns.to_file(root / "towns.geojson", driver="GeoJSON")
    villages.to_file(root / "villages.geojson", driver="GeoJSON")
    write_population(root / "population.tif", box)
    fac = gpd.GeoDataFrame(
        {"name": [f[0] for f in FACILITIES]},
        geometry=gpd.points_from_xy([f[1] for f in FACILITIES], [f[2] for f in FACILITIES]),
        crs=4326,
    )
    fac.to_file(root / "facilities.geojson", driver="GeoJSON")
    (root / "region.toml").write_text(
        f'name = "{name}"\ncode = "{code}"\ncity_name = "{name} 全域"\ntowns = "towns.geojson"\n'
        f'villages = "villages.geojson"\nnetwork = "{PBF}"\npopulation = "population.tif"\n'
        '[facilities]\nfitness_15 = "facilities.geojson"\n',
        encoding="utf-8",
    )
    return root
