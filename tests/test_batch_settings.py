"""Per-town settings (``[settings] elderly_population`` / ``elderly_share`` tables) for any region, not only Dongguan.

The keys are checked loosely when the config is read (a non-empty code string; a key that starts like a Dongguan
code must be one) and against the study's towns when the study is loaded: a key naming no town of the study is
refused naming the key and listing valid codes; a town left out of a table is refused by the supply step as before.
The region is the Helsinki test area (tests/_region_data.py: towns HT1-HT3, real OSM streets).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd
import pytest

from dgcoverage.cli.main import main
from dgcoverage.errors import ConfigError
from dgcoverage.inputs.config import Settings, default_config_path, load_config

from ._region_data import PBF, write_region


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_region(tmp_path_factory.mktemp("settings_region") / "hel")


def _config(tmp_path: Path, table: str) -> Path:
    text = default_config_path().read_text(encoding="utf-8")
    p = tmp_path / "circles.toml"
    p.write_text(text + "\n" + table, encoding="utf-8")
    return p


def _load(region: Path, settings: Settings):
    from dgcoverage.pipeline.load import load_study

    return load_study(
        PBF,
        region / "population.tif",
        region / "villages.geojson",
        towns=region / "towns.geojson",
        settings=settings,
        city_code="HEL",
        city_name="Helsinki centre",
    )


def test_a_regions_own_town_codes_set_its_older_people(region, tmp_path):
    """[settings.elderly_population] keyed by the region's codes reaches the supply of elderly care, end to end."""
    cfg = _config(tmp_path, "[settings.elderly_population]\nHT1 = 40\nHT2 = 50\nHT3 = 30\n")
    assert dict(load_config(cfg)[1].elderly_population) == {"HT1": 40.0, "HT2": 50.0, "HT3": 30.0}
    out = tmp_path / "out"
    args = ["run", "--circle", "elderly_care_15", "--region", str(region), "--config", str(cfg), "--no-maps"]
    assert main([*args, "--facilities", str(region / "facilities.geojson"), "--out", str(out)]) == 0
    towns = pd.read_csv(out / "elderly_care_15" / "towns.csv", encoding="utf-8-sig", dtype=str)
    towns.columns = [c.split()[0] for c in towns.columns]
    towns = towns.set_index("town_code")
    assert towns["elderly"].astype(float).to_dict() == {"HT1": 40.0, "HT2": 50.0, "HT3": 30.0, "HEL": 120.0}
    assert set(towns["elderly_basis"]) == {"settings_town_counts"}
    # hand-checked: 35 beds per 1,000 people aged 60+ -> 40 x 0.035 = 1.40 beds needed in HT1, 4.20 city-wide
    assert towns["required_supply"].astype(float).round(6).to_dict() == {
        "HT1": 1.4,
        "HT2": 1.75,
        "HT3": 1.05,
        "HEL": 4.2,
    }


def test_a_key_naming_no_town_of_the_study_is_refused_with_valid_codes(region):
    with pytest.raises(ConfigError) as err:
        _load(region, Settings(elderly_share={"HT1": 0.2, "HT2": 0.2, "HT3": 0.2, "HT9": 0.1}))
    msg = str(err.value)
    assert "elderly_share" in msg and "['HT9']" in msg and "'HT1' (Town 1)" in msg and "3 towns" in msg
    with pytest.raises(ConfigError, match=re.escape("['441900003']")):  # a Dongguan code in another region
        _load(region, Settings(elderly_population={"441900003": 100.0}))


def test_a_town_left_out_of_the_table_is_refused_as_before(region):
    from dgcoverage.pipeline.facilities import load_facilities
    from dgcoverage.pipeline.run import run_circle

    study = _load(region, Settings(elderly_share={"HT1": 0.2, "HT2": 0.25}))
    circle = load_config()[0]["elderly_care_15"]
    fac = load_facilities(study, circle, region / "facilities.geojson")
    with pytest.raises(ConfigError, match=re.escape("lacks 1 town(s) of the study with people: ['HT3']")):
        run_circle(study, circle, fac)
    study = dataclasses.replace(study, settings=Settings(elderly_share={"HT1": 0.2, "HT2": 0.25, "HT3": 0.1}))
    res = run_circle(study, circle, load_facilities(study, circle, region / "facilities.geojson"))
    t = res.towns.set_index("town_code")
    # hand-checked: 187 people x 0.2 = 37.4 aged 60+ in HT1 (population from the test raster)
    assert t.loc["HT1", "population"] == 187 and round(float(t.loc["HT1", "elderly"]), 6) == 37.4


@pytest.mark.parametrize(
    "table, match",
    [
        ('"HT 1" = 0.1\n', "'HT 1' is not a town code"),
        ('"" = 0.1\n', "'' is not a town code"),
        ('"4419003" = 0.1\n', "not a 9-digit Dongguan town code"),
    ],
)
def test_town_keys_are_checked_loosely_when_read(tmp_path, table, match):
    with pytest.raises(ConfigError, match=match):
        load_config(_config(tmp_path, "[settings.elderly_share]\n" + table))


def test_dongguan_keys_are_checked_against_its_36_towns():
    from dgcoverage.pipeline.load import load_study

    for key in ("441900999", "HT1"):  # checked before anything is read: no data needed
        with pytest.raises(ConfigError) as err:
            load_study(settings=Settings(elderly_share={"441900003": 0.1, key: 0.1}), data_dir="/nonexistent")
        assert (
            f"['{key}']" in str(err.value)
            and "'441900003' (东城街道)" in str(err.value)
            and "36 towns" in str(err.value)
        )
