"""Issue 19, independent attack: defects found by rerunning hostile inputs against the demo.

Each test is a case of /tmp/readme/attack.md that changed a figure without a word before its fix:

* D10: a column name stating two systems (``经度(高德转百度)``, BD-09 numbers) was read as the first system named
  (GCJ-02): 598 villages' covered shares moved.  Now such a table is refused unless the option says the system.
* U28: a capacity column with no unit holding 亩 (median 21.9) passed as m² (supply 935 m² instead of
  623,600 m² in 东城街道): the small-median check stopped at 10 m².  Now a unit-less median under 50 m² is taken
  for 亩/公顷 like one under 10 was.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from dgcoverage.errors import CRSError
from dgcoverage.inputs import capacity
from dgcoverage.inputs.tables import choose_coordinates

MU = 10_000 / 15  # 1 亩 = 666.666... m²


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = fn(*args, **kw)
    return out, [str(r.message) for r in rec]


@pytest.mark.parametrize(
    "lon, lat, named",
    [
        ("经度(高德转百度)", "纬度(高德转百度)", "bd09, gcj02"),  # BD-09 numbers: read as GCJ-02 before
        ("lon(WGS84, 由高德转换)", "lat(WGS84, 由高德转换)", "gcj02, wgs84"),  # right only by the order of a list
        ("lng_gcj02_to_wgs84", "lat_gcj02_to_wgs84", "gcj02, wgs84"),
    ],
)
def test_column_names_stating_two_systems_are_refused_not_read_as_the_first(lon, lat, named):
    df = pd.DataFrame({lon: ["113.75"], lat: ["23.02"]})
    with pytest.raises(CRSError) as exc:
        choose_coordinates(df, "f.csv", None)
    msg = str(exc.value)
    assert msg.startswith(f"f.csv: the columns {lon}/{lat} name two coordinate systems ({named})")
    assert "--facilities-crs" in msg and "Fix:" in msg
    # the option settles it (and then the column names do not contradict it)
    assert choose_coordinates(df, "f.csv", "bd09") == {"lon": lon, "lat": lat, "crs": "bd09", "crs_source": "declared"}
    # a project default does not: the names say something, only not which
    with pytest.raises(CRSError, match="name two coordinate systems"):
        choose_coordinates(df, "f.csv", None, default_crs="gcj02")


def test_one_system_named_twice_is_still_one_system():
    df = pd.DataFrame({"lon_wgs84 (GPS)": ["113.75"], "lat_wgs84 (GPS)": ["23.02"]})
    assert choose_coordinates(df, "f.csv", None)["crs"] == "wgs84"


def test_mu_without_a_unit_is_not_read_as_square_metres():
    # 亩 with no unit: sports parks of 5 to 45 亩 (3,300 to 30,000 m²), median 21.9 — read as 21.9 m² before
    df = pd.DataFrame({"场地面积": ["21.9", "7.95", "4.95", "33", "45", "-"]})
    (v, c), msgs = _quiet(capacity.capacity_from_table, df, "area_m2", "f.csv", check_plausible=True)
    assert np.isnan(v).all()
    assert c["capacity_median_implausible"] == 1 and c["capacity_known"] == 0 and c["capacity_unknown"] == 6
    text = " ".join(msgs)
    assert "the median capacity in column '场地面积' is 21.9, under 50 m²" in text and 'capacity_unit = "ha"' in text
    # said in the config, the same numbers are read exactly
    (v, c), _ = _quiet(capacity.capacity_from_table, df, "area_m2", "f.csv", check_plausible=True, unit="mu")
    assert np.allclose(v[:5], np.array([21.9, 7.95, 4.95, 33, 45]) * MU) and "capacity_median_implausible" not in c
    # m² figures of real facilities (median 60 m² and up) are untouched
    ok = pd.DataFrame({"场地面积": ["60", "45", "300"]})
    (v, c), _ = _quiet(capacity.capacity_from_table, ok, "area_m2", "f.csv", check_plausible=True)
    assert v.tolist() == [60.0, 45.0, 300.0] and "capacity_median_implausible" not in c
