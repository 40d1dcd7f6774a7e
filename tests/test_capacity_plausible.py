"""Capacities no facility can have are taken as mistakes (unknown, counted, said); a suspect median is said."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dgcoverage.config import load_config
from dgcoverage.errors import DgCoverageWarning
from dgcoverage.pipeline import load_facilities, load_study

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
        fac = load_facilities(study, FIT, p)
    assert fac.attrs["warnings"]["facilities_capacity_implausible"] == 2
    ids = df["编号"].astype(str).tolist()[:2]
    got = fac.set_index(fac["facility_id"].astype(str))["capacity"]
    assert set(ids) <= set(got.index) and all(np.isnan(got[i]) for i in ids)
    assert np.isfinite(fac["capacity"]).sum() == pd.to_numeric(df[COL].iloc[2:], errors="coerce").notna().sum()


def test_a_median_over_ten_hectares_is_said(study, small_city, tmp_path):
    p, _ = _table(small_city, tmp_path, lambda i, v: str(float(v) * 10) if isinstance(v, str) and v else v)
    with pytest.warns(DgCoverageWarning, match="check the column's unit"):
        fac = load_facilities(study, FIT, p)
    assert fac.attrs["warnings"]["facilities_capacity_median_implausible"] == 1
