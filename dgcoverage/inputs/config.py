"""Service circles as data: load and validate the TOML configuration."""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..errors import ConfigError, InputFileError, InputNotFoundError
from .units import unit_setting

MODES = ("walk", "bicycle", "drive")
CIRCLE_IDS = ("elderly_care_15", "fitness_15", "legal_aid_30", "culture_sports_10")
#: Circle ids name output folders and files: nothing else is allowed in them.
CIRCLE_ID_RE = re.compile(r"[a-z0-9_]+")
#: Ids that would collide with other outputs (maps/index.html, <out>/maps/, report.*).
RESERVED_IDS = frozenset({"index", "maps", "report"})
#: OSM network type (OSMnx ``network_type``) that matches each travel mode.
NETWORK_TYPE_FOR_MODE = {"walk": "walk", "bicycle": "bike", "drive": "drive"}
#: Capacity kinds a circle's supply standard can count (the keys of ``supply.CAPACITY_ALIASES``).
CAPACITY_KINDS = ("area_m2", "beds")
#: Population a supply target is measured against: residents (常住人口) or people aged 60+.
SUPPLY_BASES = ("residents", "elderly")
#: Distance decay of the access-weighted supply (2SFCA; ``supply.DECAYS``).
FCA_DECAYS = ("none", "gaussian", "stepwise")
#: People supply ratios are measured against: the raster's people in each town (the time circles' people)
#: or the 2020 census resident population per town (embedded, dgcoverage/data/dongguan).
SUPPLY_POPULATIONS = ("raster", "census")
#: Plausible ranges of the settings a person types; outside them a value is refused naming the likely unit
#: mistake, unless ``allow_unusual_settings = true`` ([settings] or the circle).  Speeds in km/h per mode (the
#: access legs are walked), limits in minutes, snap distances in metres, supply targets per person or per 1,000.
PLAUSIBLE: dict[str, Any] = {
    "speed_kmh": {"walk": (2.0, 7.0), "bicycle": (6.0, 30.0), "drive": (10.0, 120.0)},
    "access_speed_kmh": (2.0, 7.0),
    "minutes": (1.0, 120.0),
    "max_snap_m": (10.0, 5000.0),
    "supply_target": {"area_m2": (0.01, 50.0), "beds": (0.001, 0.2)},  # per person (x 1,000 for supply_per = 1000)
}
#: Dongguan's town codes (9-digit NBS codes of its 镇街): a per-town settings key starting like one must be one.
TOWN_CODE_RE = re.compile(r"4419\d{5}")


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
    capacity
        Capacity the supply standard counts: ``"area_m2"`` (floor/site area, m²), ``"beds"``, or ``""``
        (no supply standard: the circle is a time circle only).
    capacity_column
        The facility table's capacity column (exact header); ``""``: found by its Chinese/English name.
    capacity_unit
        The unit of that column's numbers (``"m2"``, ``"ha"``, ``"mu"``, ``"km2"``, ``"万平方米"``, ``"beds"``
        ...); ``""``: the unit its header states, else m² or beds.
    supply_target, supply_per, supply_base
        The target: ``supply_target`` per ``supply_per`` (1 or 1,000) people of ``supply_base``
        (``"residents"`` or ``"elderly"``, people aged 60+), e.g. 3.2 m² per 1 resident, 35 beds per
        1,000 elderly; ``None`` without a standard.
    supply_indicator, supply_source
        The indicator's name (e.g. 人均体育场地设施面积) and the policy text of the target.
    fca_decay, fca_sigma_minutes, fca_steps
        Distance decay of the access-weighted supply (2SFCA, the circle's limit as catchment):
        ``"none"``, ``"gaussian"`` (width ``fca_sigma_minutes``, default half the limit) or ``"stepwise"``
        (``(upper bound in minutes, weight)`` pairs, default the thirds of the limit at 1, 0.68, 0.22).
    allow_unusual_settings
        ``true``: speeds, limits and targets outside :data:`PLAUSIBLE` are taken as meant (also set for every
        circle by ``[settings] allow_unusual_settings = true``).
    speeds
        Also measure the circle at these speeds (km/h, ascending; ``()``: not): per village the covered share at
        each and robust / fragile / not covered (:mod:`dgcoverage.pipeline.sensitivity`).
    bound_to_region
        ``true``: the service belongs to the region's jurisdiction, so only facilities inside its towns count;
        ``false``: facilities across the border within the circle's reach count too
        (:mod:`dgcoverage.pipeline.crossborder`).
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
    capacity: str = ""
    capacity_column: str = ""
    capacity_unit: str = ""
    supply_target: float | None = None
    supply_per: int = 1
    supply_base: str = "residents"
    supply_indicator: str = ""
    supply_source: str = ""
    fca_decay: str = "none"
    fca_sigma_minutes: float | None = None
    fca_steps: tuple[tuple[float, float], ...] = ()
    speeds: tuple[float, ...] = ()
    allow_unusual_settings: bool = False
    bound_to_region: bool = False

    @property
    def has_supply(self) -> bool:
        """Tell whether the circle has a supply standard (a capacity kind and a target)."""
        return bool(self.capacity) and self.supply_target is not None

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
        options = {"speed_kmh": "--speed", "access_speed_kmh": "--access-speed", "speeds": "--speeds"}
        _validate_circle(new, f"overrides ({', '.join(options.get(k, '--' + k) for k in kw)})")
        return new


@dataclass(frozen=True)
class Settings:
    """Run-wide settings.

    Attributes
    ----------
    max_snap_m
        Maximum distance (m) from a home cell or a facility to its nearest network node.
    report_cap_minutes
        Travel times are computed up to this cap for medians, percentiles and coverage curves.
    elderly_share
        Share of residents aged 60+ for per-elderly supply targets: one share for every town, or a
        mapping town code -> share; ``None``: the documented default of :mod:`dgcoverage.compute.supply`.
    elderly_population
        People aged 60+ per town (mapping town code -> count), e.g. from the census; exclusive with
        ``elderly_share``.
    elderly_source
        Where ``elderly_share`` or ``elderly_population`` come from (free text, written beside them in every
        output that uses them); ``""``: not said.
    supply_population
        People the supply ratios are measured against: ``"raster"`` (default; the population raster's
        people in each town, the people the time circles measure) or ``"census"`` (the 2020 census resident
        population per town, embedded).
    default_point_crs
        The coordinate system of point tables (facilities, candidate sites, villages) that state none in their
        column names and get no ``--*-crs`` option: ``"wgs84"``, ``"gcj02"`` or ``"bd09"``; ``""``: such a table
        is refused with the fix (a datum is never guessed).
    allow_unusual_settings
        ``true`` lets speeds, limits, snap distances and supply targets outside their plausible ranges
        (:data:`PLAUSIBLE`) pass, for a study that really means them; also a circle key.
    """

    max_snap_m: float = 500.0
    report_cap_minutes: float = 60.0
    elderly_share: float | Mapping[str, float] | None = None
    elderly_population: Mapping[str, float] | None = None
    elderly_source: str = ""
    supply_population: str = "raster"
    default_point_crs: str = ""
    allow_unusual_settings: bool = False


_CIRCLE_KEYS = {f.name for f in dataclasses.fields(Circle)} - {"id"}
_REQUIRED = {"name_zh", "name_en", "minutes", "mode", "speed_kmh"}
_SETTINGS_KEYS = {f.name for f in dataclasses.fields(Settings)}
_SUPPLY_KEYS = (
    "capacity_column",
    "capacity_unit",
    "supply_target",
    "supply_per",
    "supply_base",
    "supply_indicator",
    "supply_source",
    "fca_decay",
    "fca_sigma_minutes",
    "fca_steps",
)


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
    settings = _settings(raw.get("settings", {}), f"{path}: [settings]")
    allow_all = settings.allow_unusual_settings
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
            allow_unusual_settings=_boolean(body, "allow_unusual_settings", where, False) or allow_all,
            bound_to_region=_boolean(body, "bound_to_region", where, False),
            speeds=_speeds(body, where),
            **_supply_keys(body, where),
        )
        _validate_circle(circle, where)
        circles[cid] = circle
    return circles, settings


def _settings(settings_raw: Any, where: str) -> Settings:
    """Type the ``[settings]`` table strictly (numbers, or tables of numbers keyed by town code)."""
    if not isinstance(settings_raw, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(settings_raw) - _SETTINGS_KEYS
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {sorted(unknown)}; allowed: {sorted(_SETTINGS_KEYS)}")
    values: dict[str, Any] = {}
    for key in settings_raw:
        if key in ("elderly_share", "elderly_population") and isinstance(settings_raw[key], dict):
            values[key] = _town_numbers(settings_raw[key], key, where)
        elif key in ("elderly_source", "supply_population"):
            values[key] = _text(settings_raw, key, where)
        elif key == "default_point_crs":
            values[key] = canonical_crs_setting(_text(settings_raw, key, where), where)
        elif key == "allow_unusual_settings":
            values[key] = _boolean(settings_raw, key, where, False)
        elif key == "elderly_population":
            raise ConfigError(
                f"{where} elderly_population must be a table of people aged 60+ per town code "
                f'([settings.elderly_population] "441900003" = 52000), got {settings_raw[key]!r}'
            )
        else:
            values[key] = _number(settings_raw, key, where)
    settings = Settings(**values)
    validate_settings(settings, where)
    return settings


def canonical_crs_setting(value: str, where: str) -> str:
    """Type ``default_point_crs``: ``wgs84``, ``gcj02`` or ``bd09`` (or an alias), refused otherwise."""
    from ..errors import CRSError
    from .coords import canonical_crs

    try:
        return canonical_crs(value)
    except CRSError as exc:
        raise ConfigError(f'{where} default_point_crs: {exc} Fix: e.g. default_point_crs = "gcj02"') from None


def _town_numbers(table: dict[str, Any], key: str, where: str) -> dict[str, float]:
    """Type a ``town code -> number`` table: keys town code strings, values finite TOML numbers.

    The keys are checked loosely here (:func:`town_key_problem`) and against the study's towns when the study is
    loaded (:func:`check_town_tables`): any region's own codes are allowed, not only Dongguan's.
    """
    if not table:
        raise ConfigError(f"{where} {key} is an empty table; give one value per town code, or leave it out")
    out: dict[str, float] = {}
    for code in table:
        problem = town_key_problem(code)
        if problem:
            raise ConfigError(f"{where} {key}: {code!r} {problem}")
        out[str(code)] = _number(table, code, f"{where} {key}")
    return out


def town_key_problem(code: Any) -> str | None:
    """Return what is wrong with a key of a per-town settings table, or ``None`` (a plausible town code).

    Any non-empty code string without spaces or control characters passes (a region's own codes, e.g. ``"HT1"``);
    digits that start as a Dongguan code (``4419``) must be one of its 9-digit codes.
    """
    text = code if isinstance(code, str) else ""
    if not text or text != text.strip() or any(ch.isspace() or not ch.isprintable() for ch in text):
        return (
            "is not a town code: give the code of a town as in the study's towns (a non-empty string without "
            'spaces, e.g. "441900003" for 东城街道 in Dongguan, or a region\'s own code)'
        )
    if text.isdigit() and text.startswith("4419") and not TOWN_CODE_RE.fullmatch(text):
        return 'is not a 9-digit Dongguan town code (e.g. "441900003" for 东城街道)'
    return None


def check_town_tables(settings: Settings, towns: Any, where: str = "settings") -> None:
    """Refuse per-town settings (``elderly_share``/``elderly_population`` tables) naming a town not in the study.

    Parameters
    ----------
    settings
        The run's settings.
    towns
        The study's towns: a frame with ``town_code`` (and ``town_name``), or the codes; ``None``: Dongguan's 36
        official towns (a Dongguan study of part of the city may still give every town).
    where
        Where the settings come from, for the message.

    Raises
    ------
    ConfigError
        A key is no town code of the study: the message names the key and lists a few valid codes. Towns left
        out of a table are not refused here (the supply step says which towns with people lack a value).
    """
    tables = {k: getattr(settings, k) for k in ("elderly_population", "elderly_share")}
    tables = {k: v for k, v in tables.items() if isinstance(v, Mapping)}
    if not tables:
        return
    if towns is None:
        from .villages import dongguan_town_table

        towns = dongguan_town_table()
    frame = towns if hasattr(towns, "columns") else None
    codes = [str(c) for c in (frame["town_code"] if frame is not None else towns)]
    names = [str(n) for n in frame["town_name"]] if frame is not None and "town_name" in frame else [""] * len(codes)
    known = set(codes)
    for key, table in tables.items():
        unknown = [str(c) for c in table if str(c) not in known]
        if unknown:
            valid = ", ".join(f"{c!r} ({n})" if n else repr(c) for c, n in list(zip(codes, names))[:6])
            raise ConfigError(
                f"{where} {key}: {len(unknown)} key(s) name no town of the study: {unknown[:5]}. Fix: use the "
                f"study's town codes, e.g. {valid}{' ...' if len(codes) > 6 else ''} ({len(codes)} towns)."
            )


def _supply_keys(body: dict[str, Any], where: str) -> dict[str, Any]:
    """Type the supply-standard keys of a circle (checked together in :func:`_validate_supply`)."""
    out: dict[str, Any] = {}
    if "capacity" not in body:
        extra = sorted(k for k in _SUPPLY_KEYS if k in body)
        if extra:
            raise ConfigError(
                f'{where} {extra} need capacity ("area_m2" or "beds"): a supply standard counts capacities; '
                "add capacity and supply_target, or remove them"
            )
        return out
    out["capacity"] = _text(body, "capacity", where)
    for key in ("capacity_column", "capacity_unit", "supply_base", "supply_indicator", "supply_source", "fca_decay"):
        if key in body:
            out[key] = _text(body, key, where)
    for key in ("supply_target", "fca_sigma_minutes"):
        if key in body:
            out[key] = _number(body, key, where)
    if "supply_per" in body:
        per = _number(body, "supply_per", where)
        if per not in (1.0, 1000.0):
            raise ConfigError(f"{where} supply_per must be 1 (per person) or 1000 (per 1,000 people), got {per:g}")
        out["supply_per"] = int(per)
    if "fca_steps" in body:
        out["fca_steps"] = _steps(body["fca_steps"], where)
    return out


def _speeds(body: dict[str, Any], where: str) -> tuple[float, ...]:
    """``speeds = [2.9, 3.6, 4.3]``: the circle also measured at these speeds (km/h, robust/fragile villages)."""
    value = body.get("speeds", [])
    if not isinstance(value, list):
        raise ConfigError(f"{where} speeds must be a list of km/h, e.g. speeds = [2.9, 3.6, 4.3]; got {value!r}")
    return tuple(sorted({_number({"speeds": v}, "speeds", where) for v in value}))  # ranges: _validate_circle


def _steps(value: Any, where: str) -> tuple[tuple[float, float], ...]:
    """``fca_steps = [[5, 1.0], [10, 0.68], [15, 0.22]]``: (upper bound in minutes, weight) pairs."""
    example = "fca_steps = [[5, 1.0], [10, 0.68], [15, 0.22]]"
    if not isinstance(value, list) or not value or not all(isinstance(p, list) and len(p) == 2 for p in value):
        raise ConfigError(f"{where} fca_steps must be a list of [minutes, weight] pairs, e.g. {example}; got {value!r}")
    return tuple(
        (_number({"fca_steps": p[0]}, "fca_steps", where), _number({"fca_steps": p[1]}, "fca_steps", where))
        for p in value
    )


def validate_settings(settings: Settings, where: str = "settings") -> None:
    """Check run settings are finite, positive and plausible; raise :class:`ConfigError` naming the key."""
    for key, upper in (("max_snap_m", 50_000.0), ("report_cap_minutes", 1440.0)):
        val = getattr(settings, key)
        if not _finite(val) or not 0 < val <= upper:
            raise ConfigError(f"{where}: {key} must be a finite number in (0, {upper:g}], got {val!r}")
    if not settings.allow_unusual_settings:
        _plausible(where, "max_snap_m", settings.max_snap_m, PLAUSIBLE["max_snap_m"], "m", _SNAP_HINT, "[settings]")
    if settings.supply_population not in SUPPLY_POPULATIONS:
        raise ConfigError(
            f"{where}: supply_population must be one of {list(SUPPLY_POPULATIONS)}, got {settings.supply_population!r}"
        )
    if settings.elderly_source and settings.elderly_share is None and settings.elderly_population is None:
        raise ConfigError(
            f"{where}: elderly_source says where elderly_share or elderly_population come from; give one of them, "
            "or remove elderly_source (the default share states its own source)"
        )
    share, counts = settings.elderly_share, settings.elderly_population
    if share is not None and counts is not None:
        raise ConfigError(
            f"{where}: give elderly_share or elderly_population, not both (the base of per-elderly targets)"
        )
    for key, val, upper in (("elderly_share", share, 1.0), ("elderly_population", counts, math.inf)):
        if val is None:
            continue
        if key == "elderly_share" and not isinstance(val, Mapping):
            val = {"": val}
        if not isinstance(val, Mapping) or not val:
            raise ConfigError(f"{where}: {key} must be a mapping town code -> number, got {val!r}")
        for code, v in val.items():
            problem = town_key_problem(code) if code != "" else None
            if problem:
                raise ConfigError(f"{where}: {key}: {code!r} {problem}")
            if not _finite(v) or not 0 <= v <= upper:
                at = f"[{code!r}]" if code else ""
                raise ConfigError(
                    f"{where}: {key}{at} must be a finite number in [0, {upper:g}]"
                    + (" (a share, e.g. 0.0547 for 5.47%)" if upper == 1.0 else " (people aged 60+)")
                    + f", got {v!r}"
                )


_SNAP_HINT = "written in km? (0.5 km = 500 m)"
#: Hard limits no setting lifts (``allow_unusual_settings`` lifts only :data:`PLAUSIBLE`): faster than 150 km/h
#: or longer than 600 minutes is no service circle; the sensitivity speeds stay within 0.5-60 km/h.
HARD_LIMITS: dict[str, Any] = {"speed_kmh": 150.0, "minutes": 600.0, "speeds": (0.5, 60.0)}


def _hard(where: str, key: str, val: float, allowed: str) -> None:
    """Refuse ``val`` beyond a hard limit, saying that ``allow_unusual_settings`` does not lift it."""
    raise ConfigError(
        f"{where}: {key} = {val:g} is outside the hard limits: it must be in {allowed}, which "
        "allow_unusual_settings = true does not lift (it lifts only the plausible ranges of speeds, limits, snap "
        "distances and supply targets). Fix: correct the unit (km/h, minutes)"
    )


def _plausible(where: str, key: str, val: float, bounds: tuple[float, float], unit: str, hint: str, at: str) -> None:
    """Refuse ``val`` outside ``bounds``, naming the key, the value, the likely mistake and how to insist."""
    lo, hi = bounds
    if lo <= val <= hi:
        return
    raise ConfigError(
        f"{where}: {key} = {val:g} is outside the plausible {lo:g}-{hi:g} {unit}; {hint} Fix: correct it, or if it "
        f"is really meant, set allow_unusual_settings = true in {at}"
    )


_AT = "[settings] (or in the circle)"


def _plausible_travel(c: Circle, where: str) -> None:
    """Check a circle's speeds and limit against :data:`PLAUSIBLE` (unless allowed)."""
    if c.allow_unusual_settings:
        return
    at = _AT
    mode_bounds = PLAUSIBLE["speed_kmh"][c.mode]
    walked = PLAUSIBLE["access_speed_kmh"]
    speeds = [("speed_kmh", c.speed_kmh, mode_bounds), ("access_speed_kmh", c.access_speed_kmh, walked)]
    speeds += [("speeds", v, mode_bounds) for v in c.speeds]  # --speeds / speeds = [...]: the same mode's range
    for key, v, bounds in speeds:
        conv, unit = (v * 3.6, "m/s") if v < bounds[0] else (v * 0.06, "m/min")
        hints = [f"written in {unit}? {v:g} {unit} = {conv:g} km/h."] if bounds[0] <= conv <= bounds[1] else []
        fits = [m for m, (lo, hi) in PLAUSIBLE["speed_kmh"].items() if key != "access_speed_kmh" and lo <= v <= hi]
        if fits:  # e.g. --mode walk on a cycled circle: its 12 km/h kept
            opt = "speeds, or --speeds" if key == "speeds" else "speed_kmh, or --speed"
            hints.append(f"{v:g} km/h is a {fits[0]} speed: give one for {c.mode} too ({opt}).")
        hint = " Or ".join(hints) or f"written in another unit? ({v:g} m/s = {v * 3.6:g} km/h)"
        what = f"{key} ({c.mode})" if key != "access_speed_kmh" else f"{key} (walked)"
        _plausible(where, what, v, bounds, "km/h", hint, at)
    hint = "written in hours? (0.5 h = 30 min)" if c.minutes < 1 else "written in seconds? (900 s = 15 min)"
    _plausible(where, "minutes", c.minutes, PLAUSIBLE["minutes"], "minutes", hint, at)


def _plausible_supply(c: Circle, where: str) -> None:
    """Check a circle's supply target against :data:`PLAUSIBLE` (unless allowed)."""
    at = _AT
    if c.has_supply and c.supply_target is not None and not c.allow_unusual_settings:
        lo, hi = PLAUSIBLE["supply_target"][c.capacity]
        per, other = ("per person", "1000") if c.supply_per == 1 else ("per 1,000 people", "1")
        unit = ("m² " if c.capacity == "area_m2" else "beds ") + per
        hint = f"a target of another base written {per}? Then set supply_per = {other}."
        k = float(c.supply_per)
        _plausible(where, "supply_target", c.supply_target, (lo * k, hi * k), unit, hint, at)


def _finite(val: Any) -> bool:
    """Tell whether ``val`` is a finite int or float (never a bool)."""
    return not isinstance(val, bool) and isinstance(val, (int, float)) and math.isfinite(val)


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


def _same_label(speeds: tuple[float, ...]) -> list[float]:
    """Return the first two speeds that differ but print alike (``f"{v:g}"``, the sensitivity columns' names)."""
    seen: dict[str, float] = {}
    for v in speeds:
        if _finite(v) and f"{v:g}" in seen and seen[f"{v:g}"] != v:
            return [seen[f"{v:g}"], v]
        seen.setdefault(f"{v:g}", v)
    return []


def _validate_circle(c: Circle, where: str) -> None:
    for key in ("minutes", "speed_kmh", "access_speed_kmh", "covered_min_share"):
        val = getattr(c, key)
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val):
            raise ConfigError(f"{where}: {key} must be a finite number, got {val!r}")
    if not (c.minutes > 0):
        raise ConfigError(f"{where}: minutes must be > 0 (got {c.minutes}); the limit is a travel time")
    bad = [v for v in c.speeds if not _finite(v) or v <= 0]
    if bad:
        raise ConfigError(f"{where}: speeds must be finite numbers > 0 in km/h, e.g. 2.9,3.6,4.3; got {bad}")
    same = _same_label(c.speeds)
    if same:
        raise ConfigError(
            f"{where}: speeds {same} differ by less than the 6 significant digits their columns are named with "
            f"(covered_share_{same[0]:g}kmh): two columns of one name would be one. Fix: give each speed once"
        )
    if c.mode in MODES and c.speed_kmh > 0 and c.access_speed_kmh > 0:
        _plausible_travel(c, where)
    if c.minutes > HARD_LIMITS["minutes"]:
        _hard(where, "minutes", c.minutes, f"(0, {HARD_LIMITS['minutes']:g}] minutes")
    if c.mode not in MODES:
        raise ConfigError(f"{where}: mode must be one of {MODES}, got {c.mode!r}")
    top = HARD_LIMITS["speed_kmh"]
    for key, val in [("speed_kmh", c.speed_kmh), ("access_speed_kmh", c.access_speed_kmh)] + [
        ("speeds", v) for v in c.speeds
    ]:
        lo, hi = HARD_LIMITS["speeds"] if key == "speeds" else (0.0, top)
        if not (lo < val <= hi if key != "speeds" else lo <= val <= hi):
            _hard(where, key, val, f"({lo:g}, {hi:g}] km/h" if key != "speeds" else f"{lo:g}-{hi:g} km/h")
    if not (0 < c.covered_min_share <= 1):
        raise ConfigError(f"{where}: covered_min_share must be in (0, 1], got {c.covered_min_share}")
    for key, val in c.osm_tags.items():
        ok = val is True or isinstance(val, str) or (isinstance(val, list) and all(isinstance(x, str) for x in val))
        if not ok:
            raise ConfigError(f"{where}: osm_tags.{key} must be true, a string or a list of strings")
    _validate_supply(c, where)
    if c.capacity_unit:
        unit_setting(c.capacity_unit, c.capacity, where)
    _plausible_supply(c, where)


def _validate_supply(c: Circle, where: str) -> None:
    """Check the supply-standard keys together: kinds and enums, a target > 0, decay parameters that apply."""
    if not c.capacity:
        if c.supply_target is not None:
            raise ConfigError(f'{where}: supply_target needs capacity ("area_m2" or "beds")')
        return
    if c.capacity not in CAPACITY_KINDS:
        raise ConfigError(f"{where}: capacity must be one of {CAPACITY_KINDS}, got {c.capacity!r}")
    if c.supply_target is None:
        raise ConfigError(
            f"{where}: capacity {c.capacity!r} needs supply_target (e.g. supply_target = 3.2 for 3.2 m² per "
            "resident, or 35 with supply_per = 1000 for 35 beds per 1,000 people)"
        )
    if not _finite(c.supply_target) or not c.supply_target > 0:
        raise ConfigError(f"{where}: supply_target must be a finite number > 0, got {c.supply_target!r}")
    if c.supply_per not in (1, 1000) or isinstance(c.supply_per, bool):
        raise ConfigError(f"{where}: supply_per must be 1 or 1000, got {c.supply_per!r}")
    if c.supply_base not in SUPPLY_BASES:
        raise ConfigError(f"{where}: supply_base must be one of {SUPPLY_BASES}, got {c.supply_base!r}")
    if c.fca_decay not in FCA_DECAYS:
        raise ConfigError(f"{where}: fca_decay must be one of {FCA_DECAYS}, got {c.fca_decay!r}")
    if c.fca_sigma_minutes is not None:
        if c.fca_decay != "gaussian":
            raise ConfigError(f'{where}: fca_sigma_minutes applies to fca_decay = "gaussian" only')
        if not _finite(c.fca_sigma_minutes) or not c.fca_sigma_minutes > 0:
            raise ConfigError(f"{where}: fca_sigma_minutes must be a finite number > 0, got {c.fca_sigma_minutes!r}")
    if c.fca_steps:
        if c.fca_decay != "stepwise":
            raise ConfigError(f'{where}: fca_steps applies to fca_decay = "stepwise" only')
        bounds = [b for b, _ in c.fca_steps]
        weights = [w for _, w in c.fca_steps]
        if (
            not all(_finite(v) for v in bounds + weights)
            or bounds[0] <= 0
            or any(b1 <= b0 for b0, b1 in zip(bounds, bounds[1:]))
            or any(w < 0 for w in weights)
            or not any(w > 0 for w in weights)
        ):
            raise ConfigError(
                f"{where}: fca_steps must be [minutes, weight] pairs with increasing minutes > 0 and weights >= 0 "
                f"(at least one > 0), got {[list(p) for p in c.fca_steps]}"
            )
