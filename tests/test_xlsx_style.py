"""io.style_table_sheet: frozen header, autofilter, widths and number formats survive a save/load."""

from __future__ import annotations

from openpyxl import Workbook, load_workbook

from dgcoverage.core.io import save_workbook, style_table_sheet, text_width


def test_style_table_sheet_round_trip(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["覆盖报告 title row"])
    ws.append(
        [
            "town_name 镇街名称",
            "population 人口",
            "covered_share 覆盖率",
            "lon 经度",
            "median_min 中位时间",
            "node 路网节点",
        ]
    )
    ws.append(["莞城街道", 123456.0, 0.5, 113.7512345, 7.25, 36933])
    ws.append(["x", 1, 0.25, 113.1, 3.0, 12])
    style_table_sheet(ws, header_row=2)
    w = load_workbook(save_workbook(wb, tmp_path / "s.xlsx")).active
    assert w.freeze_panes == "A3"
    assert w.auto_filter.ref == "A2:F4"
    assert w["F3"].number_format == "0"  # an id, not a quantity: no thousands separator
    assert w["B3"].number_format == "#,##0"
    assert w["C3"].number_format == "0.0%"
    assert w["D3"].number_format == "0.0000000"
    assert w["E3"].number_format == "#,##0.00"
    # the header "town_name 镇街名称" is 10 + 8 wide characters = 18 (+2 padding)
    assert w.column_dimensions["A"].width == 20
    assert w.page_setup.orientation == "landscape"
    assert w.page_setup.fitToWidth == 1 and w.sheet_properties.pageSetUpPr.fitToPage
    assert w.print_title_rows == "$1:$2"


def test_text_width_counts_wide_characters_twice():
    assert text_width("ab") == 2
    assert text_width("镇街") == 4
    assert text_width("a\n镇街镇") == 6
    assert text_width(None) == 0
