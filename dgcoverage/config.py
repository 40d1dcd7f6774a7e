"""Service circles as data: load and validate the TOML configuration."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import ConfigError, InputFileError, InputNotFoundError

MODES = ("walk", "bicycle", "drive")
CIRCLE_IDS = ("elderly_care_15", "fitness_15", "legal_aid_30", "culture_sports_10")


@dataclass(frozen=True)
class Circle:
    """One service circle: a facility type and its travel-time target.

    Attributes
    ----------
    id
        Machine id, e.g. ``"fitness_15"``.
    minutes
        Time limit in minutes.
    speed_kmh
        Network travel speed for ``mode`` in km/h.
    access_speed_kmh
        Walking speed (km/h) for the legs between a point and its nearest node.
    covered_min_share
        Share of a village's population within the limit for status "covered".
    """

    id: str
    name_zh: str
    name_en: str
    minutes: float
    mode: str
    speed_kmh: float
    access_speed_kmh: float
    covered_min_share: float
    every_village: bool
    policy_source: str
    policy_quote: str
    speed_basis: str
    osm_tags: dict[str, Any] = field(default_factory=dict)
    name_keywords: tuple[str, ...] = ()

    @property
    def limit_s(self) -> float:
        """Time limit in seconds."""
        return float(self.minutes) * 60.0

    @property
    def speed_mps(self) -> float:
        """Network speed in metres per second."""
        return self.speed_kmh / 3.6

    @property
    def access_speed_mps(self) -> float:
        """Access-leg walking speed in metres per second."""
        return self.access_speed_kmh / 3.6

    def with_overrides(self, **kw: Any) -> Circle:
        """Return a copy with some fields replaced (``None`` values are ignored), validated."""
        kw = {k: v for k, v in kw.items() if v is not None}
        new = dataclasses.replace(self, **kw)
        _validate_circle(new, "overrides")
        return new


@dataclass(frozen=True)
class Settings:
    """Run-wide settings."""

    max_snap_m: float = 500.0
    report_cap_minutes: float = 60.0


_CIRCLE_KEYS = {f.name for f in dataclasses.fields(Circle)} - {"id"}
_REQUIRED = {"name_zh", "name_en", "minutes", "mode", "speed_kmh"}
_SETTINGS_KEYS = {f.name for f in dataclasses.fields(Settings)}


def default_config_path() -> Path:
    """Path of the packaged ``circles.toml``."""
    return Path(str(resources.files("dgcoverage") / "data" / "circles.toml"))


def load_config(path: str | Path | None = None) -> tuple[dict[str, Circle], Settings]:
    """Load circles and settings from a TOML file.

    Parameters
    ----------
    path
        A TOML file in the format of the packaged ``circles.toml``; ``None``
        loads the packaged one.

    Returns
    -------
    circles, settings
        Circles keyed by id (file order) and the run settings.
    """
    path = default_config_path() if path is None else Path(path)
    if not path.exists():
        raise InputNotFoundError(path, "circle config")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"is not valid TOML ({exc}).", "fix the syntax; see the packaged circles.toml.") from exc
    unknown_top = set(raw) - {"circles", "settings"}
    if unknown_top:
        raise ConfigError(f"{path}: unknown top-level table(s) {sorted(unknown_top)}; allowed: circles, settings")
    circles_raw = raw.get("circles")
    if not isinstance(circles_raw, dict) or not circles_raw:
        raise ConfigError(f"{path}: no [circles.<id>] tables found")
    circles: dict[str, Circle] = {}
    for cid, body in circles_raw.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: [circles.{cid}] must be a table")
        unknown = set(body) - _CIRCLE_KEYS
        if unknown:
            raise ConfigError(f"{path}: [circles.{cid}] has unknown key(s) {sorted(unknown)}; allowed: {sorted(_CIRCLE_KEYS)}")
        missing = _REQUIRED - set(body)
        if missing:
            raise ConfigError(f"{path}: [circles.{cid}] lacks required key(s) {sorted(missing)}")
        speed = float(body["speed_kmh"])
        circle = Circle(
            id=cid,
            name_zh=str(body["name_zh"]),
            name_en=str(body["name_en"]),
            minutes=_number(body["minutes"], path, cid, "minutes"),
            mode=str(body["mode"]),
            speed_kmh=speed,
            access_speed_kmh=float(body.get("access_speed_kmh", min(speed, 4.0))),
            covered_min_share=float(body.get("covered_min_share", 0.9)),
            every_village=bool(body.get("every_village", False)),
            policy_source=str(body.get("policy_source", "")),
            policy_quote=str(body.get("policy_quote", "")),
            speed_basis=str(body.get("speed_basis", "")),
            osm_tags=dict(body.get("osm_tags", {})),
            name_keywords=tuple(str(k) for k in body.get("name_keywords", ())),
        )
        _validate_circle(circle, f"{path}: [circles.{cid}]")
        circles[cid] = circle
    settings_raw = raw.get("settings", {})
    unknown = set(settings_raw) - _SETTINGS_KEYS
    if unknown:
        raise ConfigError(f"{path}: [settings] has unknown key(s) {sorted(unknown)}; allowed: {sorted(_SETTINGS_KEYS)}")
    settings = Settings(**{k: float(v) for k, v in settings_raw.items()})
    if settings.max_snap_m <= 0 or settings.report_cap_minutes <= 0:
        raise ConfigError(f"{path}: [settings] max_snap_m and report_cap_minutes must be > 0")
    return circles, settings


def _number(value: Any, path: Path, cid: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: [circles.{cid}] {key} must be a number, got {value!r}")
    return float(value)


def _validate_circle(c: Circle, where: str) -> None:
    if not (c.minutes > 0):
        raise ConfigError(f"{where}: minutes must be > 0 (got {c.minutes}); the limit is a travel time")
    if c.minutes > 600:
        raise ConfigError(f"{where}: minutes={c.minutes} is implausible for a service circle (max 600)")
    if c.mode not in MODES:
        raise ConfigError(f"{where}: mode must be one of {MODES}, got {c.mode!r}")
    for key in ("speed_kmh", "access_speed_kmh"):
        val = getattr(c, key)
        if not (0 < val <= 150):
            raise ConfigError(f"{where}: {key} must be in (0, 150] km/h, got {val}")
    if not (0 < c.covered_min_share <= 1):
        raise ConfigError(f"{where}: covered_min_share must be in (0, 1], got {c.covered_min_share}")
    for key, val in c.osm_tags.items():
        ok = val is True or isinstance(val, str) or (isinstance(val, list) and all(isinstance(x, str) for x in val))
        if not ok:
            raise ConfigError(f"{where}: osm_tags.{key} must be true, a string or a list of strings")
