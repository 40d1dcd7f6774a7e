"""Capacities no facility can have are taken as mistakes (unknown, counted, said); a suspect median is said."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dgcoverage.errors import DgCoverageWarning
from dgcoverage.inputs.config import load_config
from dgcoverage.pipeline.facilities import load_facilities
from dgcoverage.pipeline.load import load_study

FIT = load_config()[0]["fitness_15"]
COL = "场地面积(平方米)"


@pytest.fixture(scope="module")
def study(small_city):
    return load_study(data_dir=small_city)


def _table(small_city, tmp_path, values):
    df = pd.read_csv(small_city / "facilities" / "fitness_15_gcj02.csv", encoding="utf-8-sig", dtype=str)
    df[COL] = [values(i, v) for i, v in enumerate(df[COL])]
    p = tmp_path / "fit.csv"
    df.to_csv(p, index=False, encoding="utf-8-sig")
    return p, df


def test_a_capacity_over_a_square_kilometre_is_unknown_and_said(study, small_city, tmp_path):
    huge = {0: "50000000", 1: "99999999999999999999"}
    p, df = _table(small_city, tmp_path, lambda i, v: huge.get(i, v))
    with pytest.warns(DgCoverageWarning, match=r"2 facilities have a capacity over 1,000,000 m² .*file lines \[2, 3\]"):
        fac = load_facilities(study, FIT, p, "gcj02")  # the demo table under a new name: its datum said
    assert fac.attrs["warnings"]["facilities_capacity_implausible"] == 2
    ids = df["编号"].astype(str).tolist()[:2]
    got = fac.set_index(fac["facility_id"].astype(str))["capacity"]
    assert set(ids) <= set(got.index) and all(np.isnan(got[i]) for i in ids)
    assert np.isfinite(fac["capacity"]).sum() == pd.to_numeric(df[COL].iloc[2:], errors="coerce").notna().sum()


def test_a_median_over_ten_hectares_is_said(study, small_city, tmp_path):
    p, _ = _table(small_city, tmp_path, lambda i, v: str(float(v) * 10) if isinstance(v, str) and v else v)
    with pytest.warns(DgCoverageWarning, match="check the column's unit"):
        fac = load_facilities(study, FIT, p, "gcj02")  # the demo table under a new name: its datum said
    assert fac.attrs["warnings"]["facilities_capacity_median_implausible"] == 1


def test_the_reader_itself_refuses_implausible_values_for_every_caller():
    """capacity_from_table, as the facility and candidate-file readers call it, makes a 1e20 m² cell unknown."""
    from dgcoverage.inputs.capacity import capacity_from_table

    df = pd.DataFrame({"建筑面积(平方米)": ["800", "99999999999999999999", "1200"]})
    df.attrs["line"] = np.array([2, 3, 4])
    with pytest.warns(DgCoverageWarning, match=r"1 facilities have a capacity over 1,000,000 m² .*file lines \[3\]"):
        values, counts = capacity_from_table(df, "area_m2", "c.csv", check_plausible=True)
    assert values[0] == 800 and np.isnan(values[1]) and values[2] == 1200
    assert counts["capacity_implausible"] == 1 and counts["capacity_known"] == 2 and counts["capacity_unknown"] == 1
