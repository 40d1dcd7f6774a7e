"""Issue 19, class 3: settings in the wrong unit are refused naming the key, the value, the mistake and the way out.

Walking ``speed_kmh = 1.11`` (m/s) gave 7.5 % covered; ``66.7`` (m/min) gave 99.96 %; ``supply_target = 3200``
(per 1,000 written per person) demanded 33.5 billion m².  Outside the plausible ranges (``config.PLAUSIBLE``) a
value is refused unless ``allow_unusual_settings = true`` says it is meant.
"""

from __future__ import annotations

import re

import pytest

from dgcoverage.errors import ConfigError
from dgcoverage.inputs.config import load_config

CIRCLE = '[circles.x]\nname_zh = "x"\nname_en = "x"\nminutes = {minutes}\nmode = "{mode}"\nspeed_kmh = {speed}\n{extra}'
SUPPLY = 'capacity = "{kind}"\nsupply_target = {target}\nsupply_per = {per}\n'


def _load(tmp_path, minutes=15, mode="walk", speed=4.0, extra="", settings=""):
    p = tmp_path / "c.toml"
    text = CIRCLE.format(minutes=minutes, mode=mode, speed=speed, extra=extra)
    p.write_text(text + ("\n[settings]\n" + settings if settings else ""), encoding="utf-8")
    return load_config(p)


@pytest.mark.parametrize(
    "kw, said",
    [
        (
            {"speed": 1.11},
            "speed_kmh (walk) = 1.11 is outside the plausible 2-7 km/h; written in m/s? 1.11 m/s = 3.996 km/h",
        ),
        (
            {"speed": 66.7},
            "speed_kmh (walk) = 66.7 is outside the plausible 2-7 km/h; written in m/min? 66.7 m/min = 4.002 km/h",
        ),
        (
            {"speed": 3.3, "mode": "bicycle"},
            "speed_kmh (bicycle) = 3.3 is outside the plausible 6-30 km/h; written in m/s? 3.3 m/s = 11.88 km/h. "
            "Or 3.3 km/h is a walk speed",
        ),
        ({"speed": 200, "mode": "drive"}, "speed_kmh (drive) = 200 is outside the plausible 10-120 km/h"),
        (
            {"extra": "access_speed_kmh = 1.0\n"},
            "access_speed_kmh (walked) = 1 is outside the plausible 2-7 km/h; written in m/s?",
        ),
        ({"minutes": 900}, "minutes = 900 is outside the plausible 1-120 minutes; written in seconds?"),
        ({"minutes": 0.25}, "minutes = 0.25 is outside the plausible 1-120 minutes; written in hours?"),
        (
            {"extra": SUPPLY.format(kind="area_m2", target=3200, per=1)},
            "supply_target = 3200 is outside the plausible 0.01-50 m² per person; a target of another base written "
            "per person? Then set supply_per = 1000.",
        ),
        (
            {"extra": SUPPLY.format(kind="beds", target=0.035, per=1000)},
            "supply_target = 0.035 is outside the plausible 1-200 beds per 1,000 people; a target of another base "
            "written per 1,000 people? Then set supply_per = 1.",
        ),
        ({"settings": "max_snap_m = 0.5\n"}, "max_snap_m = 0.5 is outside the plausible 10-5000 m; written in km?"),
    ],
)
def test_implausible_settings_refused_with_the_likely_mistake_and_the_way_out(tmp_path, kw, said):
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, **kw)
    msg = str(exc.value)
    assert said in msg and "c.toml" in msg
    assert "if it is really meant, set allow_unusual_settings = true in [settings]" in msg


def test_meant_values_pass_when_allowed_and_plausible_ones_always(tmp_path):
    circles, _ = _load(tmp_path, speed=1.11, settings="allow_unusual_settings = true\n")
    assert circles["x"].speed_kmh == 1.11 and circles["x"].allow_unusual_settings
    circles, _ = _load(tmp_path, speed=66.7, extra="allow_unusual_settings = true\n")
    assert circles["x"].speed_kmh == 66.7
    _, settings = _load(tmp_path, settings="max_snap_m = 8000\nallow_unusual_settings = true\n")
    assert settings.max_snap_m == 8000
    for kw in (
        {"speed": 2.0},
        {"speed": 7.0},
        {"minutes": 120},
        {"extra": SUPPLY.format(kind="beds", target=35, per=1000)},
    ):
        _load(tmp_path, **kw)  # the edges and the packaged targets pass
    circles, _ = load_config()  # the packaged circles are all plausible
    assert {c.id for c in circles.values()} == {"elderly_care_15", "fitness_15", "legal_aid_30", "culture_sports_10"}
    # the command line's overrides are checked the same way (--speed 66.7), and --mode walk keeps no 12 km/h
    with pytest.raises(ConfigError, match=re.escape("66.7 m/min = 4.002 km/h")):
        circles["fitness_15"].with_overrides(speed_kmh=66.7)
    with pytest.raises(ConfigError, match="12 km/h is a bicycle speed: give one for walk too"):
        circles["legal_aid_30"].with_overrides(mode="walk")
    assert circles["legal_aid_30"].with_overrides(mode="walk", speed_kmh=4.0).speed_kmh == 4.0


@pytest.mark.parametrize(
    "speeds, said",
    [
        ("1.0,1.2", "overrides (--speeds): speeds (walk) = 1 is outside the plausible 2-7 km/h; written in m/s? 1 m/s"),
        ("60,70", "speeds (walk) = 60 is outside the plausible 2-7 km/h; written in m/min? 60 m/min = 3.6 km/h"),
        ("3.6,12", "speeds (walk) = 12 is outside the plausible 2-7 km/h; 12 km/h is a bicycle speed: give one for "),
    ],
)
def test_speeds_option_range_checked_like_the_circle_speed_before_any_loading(speeds, said, tmp_path):
    """``--speeds 1.0,1.2`` (m/s) ran: every village 'not covered' at both speeds, without a word."""
    import time

    from dgcoverage.cli.main import main

    t0 = time.perf_counter()
    code = main(["run", "--circle", "elderly_care_15", "--speeds", speeds, "--out", str(tmp_path / "o"), "--no-maps"])
    assert code == 2 and time.perf_counter() - t0 < 3.0  # said before the network or raster is read
    circles, _ = load_config()
    with pytest.raises(ConfigError) as err:
        circles["elderly_care_15"].with_overrides(speeds=tuple(float(v) for v in speeds.split(",")))
    assert said in str(err.value) and "allow_unusual_settings = true" in str(err.value)
    assert not (tmp_path / "o").exists()


def test_speeds_in_the_config_checked_per_mode_and_insisting_lifts_only_the_plausible_range(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("speeds (bicycle) = 4 is outside the plausible 6-30 km/h")):
        _load(tmp_path, mode="bicycle", speed=12, extra="speeds = [4.0, 12.0]\n")
    circles, _ = _load(tmp_path, speed=4.0, extra="speeds = [1.0, 4.0]\nallow_unusual_settings = true\n")
    assert circles["x"].speeds == (1.0, 4.0)  # insisted: taken as meant


@pytest.mark.parametrize(
    "kw, said",
    [
        ({"minutes": 900}, "minutes = 900 is outside the hard limits: it must be in (0, 600] minutes"),
        ({"speed": 200, "mode": "drive"}, "speed_kmh = 200 is outside the hard limits: it must be in (0, 150] km/h"),
        ({"extra": "speeds = [0.2, 4.0]\n"}, "speeds = 0.2 is outside the hard limits: it must be in 0.5-60 km/h"),
    ],
)
def test_hard_limits_say_that_insisting_does_not_lift_them(tmp_path, kw, said):
    """``allow_unusual_settings`` lifts the plausible ranges, never the hard physical limits; the refusal says so."""
    extra = kw.pop("extra", "") + "allow_unusual_settings = true\n"
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, extra=extra, **kw)
    msg = str(exc.value)
    assert said in msg and "which allow_unusual_settings = true does not lift" in msg and "c.toml" in msg
