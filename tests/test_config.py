"""Circle configuration: the packaged TOML and validation of user configs."""

from __future__ import annotations

import pytest

from dgcoverage.errors import ConfigError, InputNotFoundError
from dgcoverage.inputs.config import CIRCLE_IDS, load_config


def test_packaged_config_has_the_four_policy_circles():
    circles, settings = load_config()
    assert tuple(circles) == CIRCLE_IDS
    assert {c: circles[c].minutes for c in circles} == {
        "elderly_care_15": 15,
        "fitness_15": 15,
        "legal_aid_30": 30,
        "culture_sports_10": 10,
    }
    assert circles["elderly_care_15"].speed_kmh == 3.6 and circles["elderly_care_15"].every_village
    assert circles["fitness_15"].limit_s == 900.0
    assert circles["legal_aid_30"].mode == "bicycle"
    assert "东府〔2020〕1号" in circles["elderly_care_15"].policy_source
    assert "46号" in circles["culture_sports_10"].policy_source
    assert circles["fitness_15"].osm_tags["leisure"][0] == "fitness_centre"
    assert settings.max_snap_m == 500 and settings.report_cap_minutes == 60


def _write(tmp_path, body: str):
    p = tmp_path / "c.toml"
    p.write_text(body, encoding="utf-8")
    return p


BASE = '[circles.x]\nname_zh = "测试"\nname_en = "t"\nmode = "walk"\nspeed_kmh = 4.0\n'


@pytest.mark.parametrize(
    "extra, match",
    [
        ("minutes = 0\n", "minutes must be > 0"),
        ("minutes = -5\n", "minutes must be > 0"),
        ("minutes = 15\ncolour = 'red'\n", "unknown key"),
        ("minutes = '15'\n", "must be a number"),
    ],
)
def test_bad_circle_values(tmp_path, extra, match):
    with pytest.raises(ConfigError, match=match):
        load_config(_write(tmp_path, BASE + extra))


def test_bad_speed_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="speed_kmh"):
        load_config(_write(tmp_path, BASE.replace("4.0", "0") + "minutes = 10\n"))
    with pytest.raises(InputNotFoundError):
        load_config(tmp_path / "nope.toml")


def test_overrides_are_validated():
    circles, _ = load_config()
    c = circles["fitness_15"].with_overrides(minutes=20, speed_kmh=None)
    assert c.minutes == 20 and c.speed_kmh == 4.0
    with pytest.raises(ConfigError):
        circles["fitness_15"].with_overrides(minutes=-1)
