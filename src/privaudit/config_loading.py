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


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every model class inside an annotation: ``X``, ``X | None``, ``list[X]``, ``Annotated[Union[X, Y], ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _tags(model: type[BaseModel]) -> set:
    """Values of the one-value ``Literal`` fields of ``model``: the tags a discriminated union picks it by."""
    return {args[0] for f in model.model_fields.values() if get_origin(f.annotation) is Literal and len(args := get_args(f.annotation)) == 1}


def _walk(model: type[BaseModel], loc: tuple) -> tuple[tuple, list[type[BaseModel]]]:
    """``loc`` without the tags pydantic inserts for a discriminated union (``targets.0.sklearn.url`` → ``targets.0.url``),
    and the model classes the location can be in (one, unless the union's tag is not known)."""
    shown: list = []
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            shown.append(part)
            continue
        if len(current) > 1:
            tagged = [m for m in current if part in _tags(m)]
            if tagged:
                current = tagged
                continue
        shown.append(part)
        current = [inner for m in current if part in m.model_fields for inner in _models_in(m.model_fields[part].annotation)]
    return tuple(shown), current


def _allowed_keys(model: type[BaseModel], loc: tuple, extra_top: tuple = ()) -> list[str]:
    """Allowed keys of the sub-model at ``loc`` (for 'unknown key' messages)."""
    _, current = _walk(model, loc[:-1])
    if len(current) != 1:
        return []
    return list(current[0].model_fields) + (list(extra_top) if current[0] is model else [])


def format_validation_errors(exc: ValidationError, source: str, model: type[BaseModel], name: Callable[[tuple], str] = _dotted,
                             extra_top: tuple = ()) -> str:
    """One line for all of a validation error's problems; ``name(loc)`` spells a location, ``model`` lists allowed keys.

    ``extra_top`` are keys the top level accepts beyond the model's fields (e.g. an audit's ``target`` shorthand).
    """
    parts = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        shown, models = _walk(model, loc)
        where = name(shown)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):  # a discriminated union: the tag key is missing or unknown
            key = str(error.get("ctx", {}).get("discriminator", "type")).strip("'")
            known = sorted({str(t) for m in models for t in _tags(m)}) or [str(error.get("ctx", {}).get("expected_tags"))]
            tag = error.get("ctx", {}).get("tag")
            problem = f"missing required key '{name((*shown, key))}'" if tag is None else f"{name((*shown, key))}: unknown {key} '{one_line(tag)}'"
            parts.append(f"{problem}; known {key}s: {', '.join(known)}")
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
