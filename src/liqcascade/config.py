"""Configs: frozen, keyword-only msgspec Structs that reject unknown fields, and one loader.

Every config of liqcascade (scenario, policy lab, dynamic engine, tier file, impact model, replay
event, leverage prior) is a subclass of :class:`Config`. A field has the same name in a TOML file,
a JSON file, a CLI ``--set KEY=VALUE``, a web request and the Python constructor. Configs are read
from TOML (or JSON where a config is written back) by :func:`load`, and validated from a plain dict
(a web request body, a ``--set`` list) by :func:`convert`.

Every error is a :class:`~liqcascade.errors.ConfigError` that starts with the file (or class)
name and the field path, then says what was expected and what was given::

    policy.toml: variants[2].max_leverage: expected a number <= 1001.0, got 2000
    policy.toml: variants[0].max_lev: unknown key (did you mean 'max_leverage'?); valid keys: ...
    scenario.toml: shock.kind: expected one of jump|news|..., got 'jmp' (did you mean 'jump'?)

A config built in Python is checked the same way as one read from a file (bounds included), so
``PolicyVariant(name="x", max_leverage=0)`` is refused with the same message.

JSON: non-finite numbers (an infinite insurance fund, a half-life that never refills) are written
as the strings ``"inf"``, ``"-inf"`` and ``"nan"``, and read back as numbers where the field is a
number (TOML has ``inf`` and ``nan`` of its own).
"""

from __future__ import annotations

import contextvars
import difflib
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union

import msgspec

from liqcascade.errors import ConfigError

__all__ = [
    "Config",
    "convert",
    "format_path",
    "from_json",
    "json_schema",
    "load",
    "read",
    "read_toml",
    "to_json",
]

T = TypeVar("T")
C = TypeVar("C", bound="Config")

# Set while msgspec builds a config (from a file or in Config's own re-check), so the re-check
# of a config built in Python does not recurse.
_CONVERTING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "liqcascade_config_converting", default=False
)


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every config: frozen, keyword-only, unknown fields refused, JSON round trip.

    Subclasses put checks that span several fields in :meth:`check` (raise ``ValueError`` with
    a message that names the field; the loader adds the file and the path).
    """

    def __post_init__(self) -> None:
        if _CONVERTING.get():
            self.check()
            return
        # Built in Python: run the same validation as a file would get (types and bounds).
        validate(self)

    def check(self) -> None:
        """Checks across fields; raise ``ValueError`` naming the field. Default: none."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of builtins (round-trips through :meth:`from_dict`)."""
        out: dict[str, Any] = msgspec.to_builtins(self, enc_hook=_enc_hook)
        return out

    def to_json(self) -> str:
        """JSON text (non-finite numbers as ``"inf"``/``"-inf"``/``"nan"``)."""
        return to_json(self)

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any], *, name: str | None = None) -> C:
        """Validate a dict of fields; ``name`` (default the class name) prefixes errors.

        ``"inf"``/``"-inf"``/``"nan"`` strings are read as numbers where the field is a number
        (the dict may come from :meth:`to_json`).
        """
        return convert(_decode_nonfinite(data, cls), cls, name=name or cls.__name__)

    @classmethod
    def from_json(cls: type[C], text: str | bytes, *, name: str | None = None) -> C:
        """Inverse of :meth:`to_json`."""
        return from_json(text, cls, name=name or cls.__name__)

    @classmethod
    def load(cls: type[C], path: str | Path) -> C:
        """Read a TOML (or ``.json``) file of this config."""
        return load(path, cls)


def validate(obj: Config) -> None:
    """Re-check a config built in Python through msgspec (types, bounds, cross-field checks)."""
    name = type(obj).__name__
    raw = msgspec.to_builtins(obj, enc_hook=_enc_hook)
    token = _CONVERTING.set(True)
    try:
        _walk(raw, type(obj), [], name)
        msgspec.convert(raw, type(obj))
    except msgspec.ValidationError as exc:
        raise ConfigError(_rewrite(str(exc), name, raw)) from None
    finally:
        _CONVERTING.reset(token)


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
def read_toml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The TOML file as a dict; ConfigError naming the file if missing, not UTF-8 or not TOML."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: {what} file not found")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p.name}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p.name}: not UTF-8 text ({exc})") from None


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise ConfigError(f"{path}: {what} file not found")
    try:
        return msgspec.json.decode(path.read_bytes())
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path.name}: invalid JSON: {exc}") from None


def read(path: str | Path, tp: Any = Any, *, what: str = "config") -> dict[str, Any]:
    """The fields of a TOML (or ``.json``) file as a dict, not yet validated.

    For callers that merge overrides (``--set KEY=VALUE``) before :func:`convert`.
    """
    p = Path(path)
    if p.suffix.lower() != ".json":
        return read_toml(p, what)
    raw = _decode_nonfinite(_read_json(p, what), tp)
    if not isinstance(raw, dict):
        raise ConfigError(f"{p.name}: expected an object of fields at the top level")
    return raw


def load(
    path: str | Path,
    tp: type[T],
    *,
    what: str = "config",
    extra: Mapping[str, Any] | None = None,
) -> T:
    """Read ``path`` (TOML; JSON when it ends in ``.json``) and validate it as ``tp``.

    ``extra`` adds fields the loader sets itself (e.g. the file's own path); they are not
    accepted from the file.
    """
    p = Path(path)
    raw = read(p, tp, what=what)
    if extra:
        for key in extra:
            if key in raw:
                raise ConfigError(f"{p.name}: {key}: unknown key (it is set by the loader)")
        raw = {**raw, **extra}
    return convert(raw, tp, name=p.name)


def convert(
    raw: Any, tp: type[T], *, name: str, prefix: Sequence[str | int] = (), strict: bool = True
) -> T:
    """Validate ``raw`` (builtins: dicts, lists, numbers, strings) as ``tp``.

    Unknown keys and tags are reported by name (with the closest valid one), then types, bounds
    and cross-field checks. ``name`` (a file name) and ``prefix`` (the path of ``raw`` inside
    it) start every message. ``strict=False`` also reads numbers and booleans written as text
    (CSV cells, ``--set KEY=VALUE``).
    """
    parts = list(prefix)
    token = _CONVERTING.set(True)
    try:
        _walk(raw, tp, parts, name)
        return msgspec.convert(raw, tp, strict=strict)
    except msgspec.ValidationError as exc:
        raise ConfigError(_rewrite(str(exc), name, raw, parts)) from None
    finally:
        _CONVERTING.reset(token)


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------
def to_json(obj: Any) -> str:
    """JSON text of a config (or builtins); non-finite numbers as ``"inf"``/``"-inf"``/``"nan"``."""
    return msgspec.json.encode(
        _encode_nonfinite(msgspec.to_builtins(obj, enc_hook=_enc_hook))
    ).decode()


def _enc_hook(o: Any) -> Any:
    """Builtins for values Python callers may pass: numpy scalars, paths."""
    if isinstance(o, Path):
        return str(o)
    item = getattr(o, "item", None)  # numpy scalar
    if callable(item):
        return item()
    raise NotImplementedError(f"cannot write a {type(o).__name__} in a config")


def from_json(text: str | bytes, tp: type[T], *, name: str) -> T:
    """Inverse of :func:`to_json`: decode and validate as ``tp``."""
    try:
        raw = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{name}: invalid JSON: {exc}") from None
    return convert(_decode_nonfinite(raw, tp), tp, name=name)


def json_schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of config type ``tp`` with every ``$ref`` written out in place.

    For documents that embed it (a web API's OpenAPI schema), where ``$defs`` would not resolve.
    """
    schema = msgspec.json.schema(tp)
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref[len("#/$defs/") :]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    out: dict[str, Any] = inline(schema)
    return out


def _encode_nonfinite(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    if isinstance(o, dict):
        return {k: _encode_nonfinite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_encode_nonfinite(v) for v in o]
    return o


_NONFINITE = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _decode_nonfinite(raw: Any, tp: Any) -> Any:
    """``"inf"``/``"-inf"``/``"nan"`` back to floats, only where ``tp`` expects a number."""
    tp = _strip(tp)
    origin = typing.get_origin(tp)
    if isinstance(raw, str):
        return _NONFINITE[raw] if raw in _NONFINITE and _accepts_float(tp) else raw
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if _is_struct(_strip(a))]
        if isinstance(raw, dict) and members:
            tag_field = members[0].__struct_config__.tag_field
            for m in members:
                if tag_field is None or m.__struct_config__.tag == raw.get(tag_field):
                    return _decode_nonfinite(raw, m)
        return raw
    if _is_struct(tp) and isinstance(raw, dict):
        fields = _struct_fields(tp)
        return {k: _decode_nonfinite(v, fields[k]) if k in fields else v for k, v in raw.items()}
    if origin in (list, tuple) and isinstance(raw, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis] or [Any]
        return [_decode_nonfinite(v, args[min(i, len(args) - 1)]) for i, v in enumerate(raw)]
    if origin is dict and isinstance(raw, dict):
        kv = typing.get_args(tp)
        return {k: _decode_nonfinite(v, kv[1]) for k, v in raw.items()} if kv else raw
    if tp is Any and isinstance(raw, dict):
        return {k: _decode_nonfinite(v, Any) for k, v in raw.items()}
    return raw


def _accepts_float(tp: Any) -> bool:
    if tp is float or tp is Any:
        return True
    if typing.get_origin(tp) in (Union, types.UnionType):
        return any(_accepts_float(_strip(a)) for a in typing.get_args(tp))
    return False


# --------------------------------------------------------------------------------------------
# error messages
# --------------------------------------------------------------------------------------------
def format_path(parts: Sequence[str | int]) -> str:
    """``['variants', 2, 'max_leverage']`` -> ``variants[2].max_leverage``."""
    out = ""
    for q in parts:
        out += f"[{q}]" if isinstance(q, int) else (f".{q}" if out else str(q))
    return out or "(top level)"


_MSG_RE = re.compile(r"^(.*) - at `\$(.*)`$", re.S)
_TYPE_WORDS = {
    "float": "a number",
    "int": "an integer",
    "str": "a string",
    "bool": "true or false",
    "array": "a list",
    "object": "a table",
}


def _type_words(expr: str) -> str:
    names = [t.strip() for t in expr.split("|") if t.strip() != "null"]
    words = [_TYPE_WORDS.get(t, f"`{t}`") for t in names]
    return " or ".join(dict.fromkeys(words)) or "nothing"


def _lookup(raw: Any, parts: Sequence[str | int]) -> Any:
    cur = raw
    for q in parts:
        try:
            cur = cur[q]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return cur


_MISSING = object()


def _rewrite(
    msg: str, name: str, raw: Any = None, prefix: Sequence[str | int] | None = None
) -> str:
    """A msgspec message (``... - at `$.a[0].b```) as ``name: a[0].b: expected ..., got ...``."""
    m = _MSG_RE.match(msg)
    text, path = (m.group(1), m.group(2)) if m else (msg, "")
    rel: list[str | int] = []
    for tok in re.findall(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]", path):
        if tok[0]:
            rel.append(tok[0])
        elif tok[1]:
            rel.append(int(tok[1]))
    parts = [*(prefix or []), *rel]
    miss = re.match(r"Object missing required field `(.+)`", text)
    if miss:
        return f"{name}: {format_path([*parts, miss.group(1)])}: missing required key"
    unknown = re.match(r"Object contains unknown field `(.+)`", text)
    if unknown:
        return f"{name}: {format_path([*parts, unknown.group(1)])}: unknown key"
    where = format_path(parts)
    exp = re.match(r"Expected `([^`]+)`(.*?)(?:, got `[^`]+`)?$", text, re.S)
    if exp:
        got = _lookup(raw, rel)
        shown = "" if got is _MISSING else f", got {got!r}"
        return f"{name}: {where}: expected {_type_words(exp.group(1))}{exp.group(2)}{shown}"
    bad = re.match(r"Invalid value (.+)$", text)
    if bad:
        return f"{name}: {where}: invalid value {bad.group(1)}"
    # a check raised in a config's check() points at the config itself
    return f"{name}: {where}: {text}" if parts else f"{name}: {text}"


# --------------------------------------------------------------------------------------------
# key walk: unknown keys and tags by name, before msgspec checks types
# --------------------------------------------------------------------------------------------
def _struct_fields(t: type[msgspec.Struct]) -> dict[str, Any]:
    hints = typing.get_type_hints(t, include_extras=True)
    return {f: hints[f] for f in t.__struct_fields__}


def _strip(tp: Any) -> Any:
    """Remove Annotated and Optional wrappers."""
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _strip(args[0])
    return tp


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _hint(got: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(got, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _walk(raw: Any, tp: Any, parts: list[str | int], name: str) -> None:
    """Check keys and tags of ``raw`` against ``tp``; raise ConfigError on the first miss."""
    tp = _strip(tp)
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        members = [_strip(a) for a in typing.get_args(tp) if _is_struct(_strip(a))]
        if not members or not isinstance(raw, dict):
            return
        if len(members) == 1:
            _walk(raw, members[0], parts, name)
            return
        tag_field = members[0].__struct_config__.tag_field
        tags = {m.__struct_config__.tag: m for m in members}
        where = format_path([*parts, tag_field])
        if tag_field not in raw:
            raise ConfigError(
                f"{name}: {where}: missing required key; expected one of {'|'.join(tags)}"
            )
        got = raw[tag_field]
        if got not in tags:
            raise ConfigError(
                f"{name}: {where}: expected one of {'|'.join(tags)}, got {got!r}"
                f"{_hint(str(got), list(tags))}"
            )
        _walk({k: v for k, v in raw.items() if k != tag_field}, tags[got], parts, name)
        return
    if _is_struct(tp):
        if not isinstance(raw, dict):
            return  # msgspec reports the type error
        fields = _struct_fields(tp)
        tag_field = tp.__struct_config__.tag_field
        for key, val in raw.items():
            if key == tag_field:
                continue
            if key not in fields:
                valid = ", ".join(fields)
                raise ConfigError(
                    f"{name}: {format_path([*parts, key])}: unknown key"
                    f"{_hint(str(key), list(fields))}; valid keys: {valid}"
                )
            _walk(val, fields[key], [*parts, key], name)
        return
    if origin in (list, tuple) and isinstance(raw, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis] or [Any]
        for i, item in enumerate(raw):
            _walk(item, args[min(i, len(args) - 1)], [*parts, i], name)
        return
    if origin is dict and isinstance(raw, dict):
        kv = typing.get_args(tp)
        if len(kv) == 2:
            for k, v in raw.items():
                _walk(v, kv[1], [*parts, k], name)
                if _is_struct(_strip(kv[1])):
                    # msgspec reports dict keys as [...]; convert here to name the key
                    try:
                        msgspec.convert(v, _strip(kv[1]))
                    except msgspec.ValidationError as exc:
                        raise ConfigError(_rewrite(str(exc), name, v, [*parts, k])) from None
