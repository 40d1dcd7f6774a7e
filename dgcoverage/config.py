"""Service circles as data: load and validate the TOML configuration."""

from __future__ import annotations

import dataclasses
import math
import re
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
#: Circle ids name output folders and files: nothing else is allowed in them.
CIRCLE_ID_RE = re.compile(r"[a-z0-9_]+")
#: Ids that would collide with other outputs (maps/index.html, <out>/maps/, report.*).
RESERVED_IDS = frozenset({"index", "maps", "report"})
#: OSM network type (OSMnx ``network_type``) that matches each travel mode.
NETWORK_TYPE_FOR_MODE = {"walk": "walk", "bicycle": "bike", "drive": "drive"}


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
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a BOM from Windows editors is fine
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc}).", "pass a readable TOML file.") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(
            path, f"is not valid TOML ({exc}).", "fix the syntax; see the packaged circles.toml."
        ) from exc
    unknown_top = set(raw) - {"circles", "settings"}
    if unknown_top:
        raise ConfigError(f"{path}: unknown top-level table(s) {sorted(unknown_top)}; allowed: circles, settings")
    circles_raw = raw.get("circles")
    if not isinstance(circles_raw, dict) or not circles_raw:
        raise ConfigError(f"{path}: no [circles.<id>] tables found")
    circles: dict[str, Circle] = {}
    for cid, body in circles_raw.items():
        if str(cid) in RESERVED_IDS:
            raise ConfigError(
                f"{path}: circle id {cid!r} is reserved: it names another output "
                f"({', '.join(sorted(RESERVED_IDS))}); choose another id"
            )
        if not CIRCLE_ID_RE.fullmatch(str(cid)):
            raise ConfigError(
                f"{path}: circle id {cid!r} is not allowed: ids name output folders and files, so they "
                "must match ^[a-z0-9_]+$ (lower-case letters, digits, underscore), e.g. fitness_15"
            )
        where = f"{path}: [circles.{cid}]"
        if not isinstance(body, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = set(body) - _CIRCLE_KEYS
        if unknown:
            raise ConfigError(f"{where} has unknown key(s) {sorted(unknown)}; allowed: {sorted(_CIRCLE_KEYS)}")
        missing = _REQUIRED - set(body)
        if missing:
            raise ConfigError(f"{where} lacks required key(s) {sorted(missing)}")
        speed = _number(body, "speed_kmh", where)
        circle = Circle(
            id=cid,
            name_zh=_text(body, "name_zh", where),
            name_en=_text(body, "name_en", where),
            minutes=_number(body, "minutes", where),
            mode=_text(body, "mode", where),
            speed_kmh=speed,
            access_speed_kmh=_number(body, "access_speed_kmh", where, min(speed, 4.0)),
            covered_min_share=_number(body, "covered_min_share", where, 0.9),
            every_village=_boolean(body, "every_village", where, False),
            policy_source=_text(body, "policy_source", where, ""),
            policy_quote=_text(body, "policy_quote", where, ""),
            speed_basis=_text(body, "speed_basis", where, ""),
            osm_tags=_table(body, "osm_tags", where),
            name_keywords=_text_list(body, "name_keywords", where),
        )
        _validate_circle(circle, where)
        circles[cid] = circle
    settings_raw = raw.get("settings", {})
    if not isinstance(settings_raw, dict):
        raise ConfigError(f"{path}: [settings] must be a table")
    unknown = set(settings_raw) - _SETTINGS_KEYS
    if unknown:
        raise ConfigError(f"{path}: [settings] has unknown key(s) {sorted(unknown)}; allowed: {sorted(_SETTINGS_KEYS)}")
    settings = Settings(**{k: _number(settings_raw, k, f"{path}: [settings]") for k in settings_raw})
    validate_settings(settings, f"{path}: [settings]")
    return circles, settings


def validate_settings(settings: Settings, where: str = "settings") -> None:
    """Check run settings are finite, positive and plausible; raise :class:`ConfigError` naming the key."""
    for key, upper in (("max_snap_m", 50_000.0), ("report_cap_minutes", 1440.0)):
        val = getattr(settings, key)
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val) or not 0 < val <= upper:
            raise ConfigError(f"{where}: {key} must be a finite number in (0, {upper:g}], got {val!r}")


def _number(body: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
    """Return the finite TOML number (int or float, never a bool or a string) at ``body[key]``."""
    if key not in body:
        if default is None:
            raise ConfigError(f"{where} lacks required key {key!r}")
        return float(default)
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(
            f"{where} {key} must be a number (e.g. {key} = 15), got {value!r} "
            f"({type(value).__name__}); write it without quotes or a % sign"
        )
    if not math.isfinite(value):
        raise ConfigError(f"{where} {key} must be a finite number, got {value!r}")
    return float(value)


def _boolean(body: dict[str, Any], key: str, where: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where} {key} must be true or false (a TOML boolean, no quotes), got {value!r}")
    return value


def _text(body: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    if key not in body and default is not None:
        return default
    value = body[key]
    if not isinstance(value, str):
        raise ConfigError(f"{where} {key} must be a string (in quotes), got {value!r}")
    bad = sorted(
        {
            f"U+{ord(ch):04X}"
            for ch in value
            if (ord(ch) < 32 and ch not in "\t\n")
            or 0x7F <= ord(ch) < 0xA0
            or 0x202A <= ord(ch) <= 0x202E
            or 0x2066 <= ord(ch) <= 0x2069
        }
    )
    if bad:
        raise ConfigError(
            f"{where} {key} holds control or text-direction characters {bad}, which would garble "
            "tables and maps; delete them"
        )
    return value


def _text_list(body: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{where} {key} must be a list of strings, e.g. {key} = ["养老", "长者"], got {value!r}')
    return tuple(value)


def _table(body: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = body.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where} {key} must be a table ([circles.<id>.{key}]), got {value!r}")
    return dict(value)


def _validate_circle(c: Circle, where: str) -> None:
    for key in ("minutes", "speed_kmh", "access_speed_kmh", "covered_min_share"):
        val = getattr(c, key)
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val):
            raise ConfigError(f"{where}: {key} must be a finite number, got {val!r}")
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
