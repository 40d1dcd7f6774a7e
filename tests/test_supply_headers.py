"""Capacity headers: Chinese and English names, units in brackets / after a separator / at the end, conversions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from dgcoverage.errors import DataMismatchError
from dgcoverage.inputs import capacity
from dgcoverage.inputs.tables import read_table

MU = 10_000 / 15  # 1 亩 = 666.67 m²
FT2 = 0.3048**2  # 1 ft² = 0.09290304 m²


def _read(header: str, cells: list[str], kind: str) -> tuple[np.ndarray, dict[str, int]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the conversions are counted; the warnings are checked elsewhere
        return capacity.capacity_from_table(pd.DataFrame({"名称": ["a", "b"], header: cells}), kind, "f.csv")


@pytest.mark.parametrize(
    "header, kind, factor",
    [
        ("Site area (ha)", "area_m2", 10_000),
        ("Floor Area (m2)", "area_m2", 1),
        ("Gross floor area, sq m", "area_m2", 1),
        ("Floor area m²", "area_m2", 1),
        ("floor_area_sq_m", "area_m2", 1),
        ("site area/ha", "area_m2", 10_000),
        ("Area (sq. ft)", "area_m2", FT2),
        ("GFA (sq ft)", "area_m2", FT2),
        ("area (acres)", "area_m2", 4046.8564224),
        ("Site Area【公顷】", "area_m2", 10_000),
        ("场地面积（公顷）", "area_m2", 10_000),
        ("面积(亩)", "area_m2", MU),
        ("用地面积(单位:亩)", "area_m2", MU),
        ("建筑面积/㎡", "area_m2", 1),
        ("建筑面积平方米", "area_m2", 1),
        ("面积 km²", "area_m2", 1e6),
        ("面积(万平方米)", "area_m2", 1e4),
        ("面积(平方英尺)", "area_m2", FT2),
        ("area_m2 面积", "area_m2", 1),  # our bilingual header
        ("Beds", "beds", 1),
        ("No. of beds", "beds", 1),
        ("bed count", "beds", 1),
        ("Number of beds", "beds", 1),
        ("Capacity (beds)", "beds", 1),
        ("床位(张)", "beds", 1),
        ("床位数/张", "beds", 1),
        ("床位数(个)", "beds", 1),
        ("beds 床位", "beds", 1),
    ],
)
def test_header_class_recognised_and_converted(header, kind, factor):
    values, counts = _read(header, ["2", "3.5"], kind)
    np.testing.assert_allclose(values, [2 * factor, 3.5 * factor], rtol=1e-15)
    assert counts["capacity_known"] == 2
    assert counts.get("capacity_unit_converted", 0) == (0 if factor == 1 else 2)


def test_hand_checked_conversions():
    # 1.5 ha = 15,000 m²; 3 亩 = 2,000 m²; 1,000 ft² = 92.90304 m²; 0.02 km² = 20,000 m²; 1.2万㎡ = 12,000 m²
    v, _ = _read("场地面积(公顷)", ["1.5", "3亩"], "area_m2")
    assert v.tolist() == [15_000.0, 2_000.0]
    v, _ = _read("Floor area", ["1,000 sq ft", "0.02 km²"], "area_m2")
    np.testing.assert_allclose(v, [92.90304, 20_000.0], rtol=1e-15)
    v, _ = _read("建筑面积", ["1.2万㎡", "500 sq. m"], "area_m2")
    assert v.tolist() == [12_000.0, 500.0]
    v, _ = _read("Site area (ha)", ["2", "500 m²"], "area_m2")  # a cell's own unit wins over the header's
    assert v.tolist() == [20_000.0, 500.0]


def test_area_unit_on_a_beds_header_refused_naming_file_column_and_fix():
    for header in ("beds (m2)", "床位(平方米)", "No. of beds / ha"):
        with pytest.raises(DataMismatchError, match=r"f\.csv: column .* states a unit of area_m2.*capacity_column"):
            _read(header, ["1", "2"], "beds")


def test_unknown_unit_refused_alone_ignored_beside_a_usable_column_with_the_fix():
    # issue 19: a header whose unit place holds no unit is never read as m² by guess: alone it is refused
    df = pd.DataFrame({"名称": ["a", "b"], "建筑面积(含架空层)": ["100", "200"]})
    for call in (capacity.capacity_column, capacity.capacity_column_report):
        with pytest.raises(DataMismatchError) as exc:
            call(df, "area_m2", path="f.csv")
        msg = str(exc.value)
        assert msg.startswith("f.csv: capacity column '建筑面积(含架空层)' (unit '含架空层')")
        assert "capacity_column = '建筑面积(含架空层)' and capacity_unit = \"m2\"" in msg
    # chosen explicitly (the config's capacity_column), the unit must be said too (capacity_unit)
    with pytest.raises(DataMismatchError, match=r"'含架空层' stands where its unit would.*capacity_unit = \"m2\""):
        capacity.capacity_from_table(df, "area_m2", "f.csv", column="建筑面积(含架空层)")
    v, c = capacity.capacity_from_table(df, "area_m2", "f.csv", column="建筑面积(含架空层)", unit="m2")
    assert v.tolist() == [100.0, 200.0] and c == {"capacity_known": 2, "capacity_unknown": 0}
    # beside a usable column it is ignored (counted) and the usable one read
    df["场地面积(亩)"] = ["3", "6"]
    with pytest.warns(UserWarning, match="ignored"):
        v, c = capacity.capacity_from_table(df, "area_m2", "f.csv")
    assert v.tolist() == [2_000.0, 4_000.0] and c["capacity_header_unit_unknown"] == 1


def test_several_columns_refused_unless_they_agree():
    df = pd.DataFrame({"建筑面积(平方米)": ["800", "900"], "占地面积(亩)": ["3", "3"]})
    with pytest.raises(DataMismatchError, match=r"several area_m2 columns .*'建筑面积\(平方米\)'.*'占地面积\(亩\)'"):
        capacity.capacity_column(df, "area_m2", path="f.csv")
    with pytest.raises(DataMismatchError, match=r"^f\.csv: .*capacity_column = '建筑面积\(平方米\)'"):
        capacity.capacity_from_table(df, "area_m2", "f.csv")
    assert capacity.capacity_column(df, "area_m2", "占地面积(亩)") == "占地面积(亩)"
    # a bilingual pair holding the same numbers (one in ha, one in m²) is no choice: the first is read
    df = pd.DataFrame({"Site area (ha)": ["1.5", "-"], "场地面积(平方米)": ["15,000", ""]})
    v, c = capacity.capacity_from_table(df, "area_m2")
    np.testing.assert_array_equal(v, [15_000.0, np.nan])


def test_gbk_csv_and_xlsx_headers_read_with_units(tmp_path):
    text = "名称,经度,纬度,场地面积（公顷）,床位数/张\n甲,113.75,23.02,1.2,120\n乙,113.76,23.03,3亩,80余\n"
    p = tmp_path / "设施.csv"
    p.write_bytes(text.encode("gbk"))
    df = read_table(p)
    assert df.attrs["encoding"] == "gb18030"
    with pytest.warns(UserWarning, match="converted"):
        area, ca = capacity.capacity_from_table(df, "area_m2", str(p))
    assert area.tolist() == [12_000.0, 2_000.0] and ca["capacity_unit_converted"] == 2
    with pytest.warns(UserWarning, match="lower bound"):
        beds, _ = capacity.capacity_from_table(df, "beds", str(p))
    assert beds.tolist() == [120.0, 80.0]
    x = tmp_path / "facilities.xlsx"
    pd.DataFrame(
        {"Name": ["A", "B"], "lon": [113.75, 113.76], "lat": [23.02, 23.03], "Gross floor area, sq ft": [1000, 2500.5]}
    ).to_excel(x, index=False)
    df = read_table(x)
    with pytest.warns(UserWarning, match="converted"):
        area, _ = capacity.capacity_from_table(df, "area_m2", str(x))
    np.testing.assert_allclose(area, [92.90304, 232.30405152], rtol=1e-12)  # 2,500.5 x 0.09290304
