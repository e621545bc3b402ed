"""Reading config files safely, and the pieces every config model shares.

A config is read with a *safe* YAML loader (plain values only: no Python tags,
nothing constructed but str, int, float, bool, None, lists and mappings, plus
YAML's dates and binary) and within fixed limits, checked before anything is
built from it:

* at most :data:`MAX_CONFIG_BYTES` (1 MiB) of UTF-8 text;
* at most :data:`MAX_ALIASES` (100) alias uses (``*name``);
* at most :data:`MAX_NODES` (100 000) values once every alias is expanded, so a
  "billion laughs" bomb of nested anchors is refused from its events, in
  milliseconds, before it is expanded;
* at most :data:`MAX_DEPTH` (64) levels of nesting;
* no key given twice in one mapping.

Every problem is a :class:`~privaudit.exceptions.ConfigError` of one line naming
the file and, where it has one, the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from privaudit.exceptions import ConfigError

__all__ = [
    "MAX_CONFIG_BYTES", "MAX_ALIASES", "MAX_NODES", "MAX_DEPTH", "StrictModel", "read_config_text", "parse_yaml",
    "load_yaml_file", "format_validation_errors", "one_line",
]

MAX_CONFIG_BYTES = 1 << 20
MAX_ALIASES = 100
MAX_NODES = 100_000
MAX_DEPTH = 64

_BOOLEAN_HINT = "YAML reads unquoted yes/no/on/off/true/false as booleans: quote it (e.g. 'no')"


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so an error stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def read_config_text(path: str | Path, what: str = "config") -> str:
    """The UTF-8 text of a config file, refusing folders, missing files, oversize files and other encodings."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a {what} file; give the path of the YAML file itself")
    if not path.is_file():
        raise ConfigError(f"{path}: {what} file not found (looked in {path.resolve().parent}); give the path of an existing YAML {what}")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file ({exc.strerror or exc}); check its permissions") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {what} file is larger than {MAX_CONFIG_BYTES // (1 << 20)} MiB, the most privaudit reads; "
                          "a config holds settings only: put data in the files it names")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded); save the {what} as UTF-8") from None


def _check_events(text: str, source: str, yaml) -> None:
    """Walk the YAML events once (no recursion, nothing built) and enforce the alias, node and depth limits."""
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    sizes: dict[str, int] = {}  # anchor -> expanded node count
    stack: list[list] = []  # [anchor, expanded count so far]
    aliases = total = 0

    def refuse(message: str, event) -> None:
        mark = getattr(event, "start_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{source}: {message}{where}")

    def add(count: int, event) -> None:
        nonlocal total
        total += count
        if total > MAX_NODES:
            refuse(f"expands to more than {MAX_NODES} values once its aliases (*name) are expanded; "
                   "write the values out or use fewer anchors", event)
        if stack:
            stack[-1][1] += count

    for event in yaml.parse(text, Loader=loader_class):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                refuse(f"uses more than {MAX_ALIASES} YAML aliases (*name); write the values out", event)
            if event.anchor not in sizes:
                if any(entry[0] == event.anchor for entry in stack):
                    refuse(f"alias *{one_line(event.anchor)} refers to the collection it is inside (a recursive config); remove it", event)
                refuse(f"alias *{one_line(event.anchor)} names no anchor defined before it; define &{one_line(event.anchor)} first", event)
            add(sizes[event.anchor], event)
        elif isinstance(event, yaml.ScalarEvent):
            add(1, event)
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            add(1, event)
            stack.append([event.anchor, 1])
            if len(stack) > MAX_DEPTH:
                refuse(f"is nested more than {MAX_DEPTH} levels deep; flatten it", event)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = stack.pop()
            if anchor is not None:
                sizes[anchor] = size


def _loader_class(yaml, source: str):
    """A safe loader (C when available) that refuses a key given twice in one mapping."""
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class NoDuplicateKeysLoader(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # merge keys (<<) may be overridden by explicit ones; complex keys: left to the constructor
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # unhashable key: the base constructor reports it
                    continue
                if duplicate:
                    line = key_node.start_mark.line + 1
                    raise ConfigError(f"{source}: key '{one_line(key)}' is given twice in one mapping (line {line}); keep one")
            return super().construct_mapping(node, deep=deep)

    return NoDuplicateKeysLoader


def parse_yaml(text: str, source: str) -> Any:
    """Parse config text within the limits of this module; :class:`ConfigError` (one line, naming ``source``) otherwise."""
    import yaml

    try:
        _check_events(text, source, yaml)
        return yaml.load(text, Loader=_loader_class(yaml, source))  # noqa: S506 - a SafeLoader subclass
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else "?"
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise ConfigError(f"{source}: not valid YAML at line {line}: {one_line(exc.reason)} (U+{code:04X}); remove that character") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or exc
        fix = "a config holds plain values only (no !!python tags)" if isinstance(exc, yaml.constructor.ConstructorError) else "fix the YAML syntax there"
        raise ConfigError(f"{source}: not valid YAML{where}: {one_line(problem)}; {fix}") from None
    except RecursionError:
        raise ConfigError(f"{source}: is nested too deeply to read; flatten it") from None


def load_yaml_file(path: str | Path, what: str = "config") -> Any:
    """Read and parse a YAML config file within the limits; the loaded value (``None`` for an empty file)."""
    text = read_config_text(path, what)
    return parse_yaml(text, str(path))


def _dotted(loc: tuple) -> str:
    return ".".join(one_line(p) for p in loc) or "(top level)"


def _models_in(annotation) -> list:
    """The config models an annotation holds (``X``, ``list[X]``, ``X | None``, a union of models, ``Annotated[...]``)."""
    found, stack = [], [annotation]
    while stack:
        current = stack.pop(0)
        if isinstance(current, type) and issubclass(current, BaseModel):
            found.append(current)
        stack.extend(getattr(current, "__args__", ()))
    return found


def _has_tag(model: type[BaseModel], tag) -> bool:
    """True when one of the model's fields is a Literal that admits ``tag`` (how a discriminated union names its member in a location)."""
    return any(get_origin(field.annotation) is Literal and tag in get_args(field.annotation) for field in model.model_fields.values())


def _resolve(model: type[BaseModel], loc: tuple) -> tuple[tuple, list]:
    """``loc`` without the member tags of discriminated unions (``targets.0.sklearn.path`` → ``targets.0.path``), and the models
    that hold its last key."""
    kept, candidates = [], [model]
    for part in loc:
        if isinstance(part, int) or not candidates:
            kept.append(part)
            continue
        inner = [m for c in candidates if part in c.model_fields for m in _models_in(c.model_fields[part].annotation)]
        if any(part in c.model_fields for c in candidates):
            kept.append(part)
            candidates = inner
            continue
        tagged = [c for c in candidates if _has_tag(c, part)]
        if tagged:  # a union member's tag, not a key the user wrote
            candidates = tagged
            continue
        kept.append(part)
        candidates = []
    return tuple(kept), candidates


def _allowed_keys(model: type[BaseModel], loc: tuple, extra_top: tuple = ()) -> list[str]:
    """Allowed keys of the sub-model at ``loc`` (for 'unknown key' messages)."""
    if len(loc) <= 1:
        return list(model.model_fields) + list(extra_top)
    _, candidates = _resolve(model, loc[:-1])
    return list(dict.fromkeys(key for c in candidates for key in c.model_fields))


def format_validation_errors(exc: ValidationError, source: str, model: type[BaseModel], name: Callable[[tuple], str] = _dotted,
                             extra_top: tuple = ()) -> str:
    """One line for all of a validation error's problems; ``name(loc)`` spells a location, ``model`` lists allowed keys.

    ``extra_top`` are keys the top level accepts beyond the model's fields (e.g. an audit's ``target`` shorthand).
    """
    parts = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = name(_resolve(model, loc)[0])
        if error["type"] == "union_tag_invalid":  # e.g. a target type no union member has
            ctx = error.get("ctx") or {}
            key = str(ctx.get("discriminator", "type")).strip("'")
            parts.append(f"{name(_resolve(model, loc)[0] + (key,))}: unknown {key} '{ctx.get('tag')}'; use one of {ctx.get('expected_tags')}")
        elif error["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc, extra_top)
            parts.append(f"unknown key '{where}'" + (f"; allowed keys here: {', '.join(allowed)}" if allowed else ""))
        elif error["type"] == "missing":
            parts.append(f"missing required key '{where}'")
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            if isinstance(error.get("input"), bool) and error["type"] in ("string_type", "literal_error"):
                message += f"; {_BOOLEAN_HINT}"
            parts.append(f"{where}: {message}")
    return one_line(f"{source}: " + "; ".join(parts))
