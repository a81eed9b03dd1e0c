"""Run-configuration checks done before any job: YAML syntax, the JSON schema, and the cross-key rules.

Pure Python (no torch): ``rules/common.smk`` calls :func:`check_config` right after Snakemake has
merged ``config.yaml``, ``--configfile`` files and ``--config`` overrides. Errors name the config
key (``crop.size``), what is wrong and, for an unknown key, the nearest valid names, never the schema.

Values from ``--config`` arrive as strings (``--config train='{steps: 7}'`` gives ``{"steps": "7"}``)
and PyYAML reads ``1e-4`` (no dot) as a string: a string where the schema wants a number, integer,
boolean or null is converted when it spells one (``"7"``, ``"1e-4"``, ``"true"``, ``"null"``).
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import jsonschema
import yaml

from cmhm.pipeline.config_rules import semantic_errors

INT_RE = re.compile(r"^[+-]?\d+$")
FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
TRUE, FALSE, NULL = ("true", "yes", "on"), ("false", "no", "off"), ("null", "~", "none")
MAX_ERRORS = 10
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: the schema in ms


class ConfigError(ValueError):
    """A run configuration that the pipeline cannot run; the message names each bad key."""


def _duplicate_keys(node: yaml.Node, path: Path, where: tuple[str, ...] = ()) -> None:
    """ConfigError naming the file, the key and both lines for a key written twice in one mapping (a YAML
    loader keeps the last value silently)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<":
                if key in seen:
                    first, again = seen[key].start_mark.line + 1, key_node.start_mark.line + 1
                    raise ConfigError(
                        f"{path}:{again}: key {'.'.join((*where, key))!r} is written twice (lines {first} "
                        f"and {again}); YAML would keep the last value silently: delete one"
                    )
                seen[key] = key_node
            _duplicate_keys(value_node, path, (*where, str(key)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _duplicate_keys(item, path, (*where, str(i)))


def load_yaml(path: str | Path) -> dict:
    """Parse one config file; a syntax error names the file, line and column (Snakemake's does not), a key
    written twice names both lines; an empty file or one that is not a mapping is refused (as Snakemake
    refuses it)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=LOADER)
        data = yaml.load(text, Loader=LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        ctx = exc.context_mark
        context = (
            f" ({exc.context} at line {ctx.line + 1}, column {ctx.column + 1})" if ctx and exc.context else ""
        )
        raise ConfigError(f"{where}: YAML syntax error: {exc.problem}{context}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file ({exc})") from None
    if data is None:
        raise ConfigError(f"{path}: empty config file (no keys); a run refuses it too")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}:{node.start_mark.line + 1}: a config file holds keys at top level, not a "
            f"{type(data).__name__}"
        )
    _duplicate_keys(node, path)
    return data


def _resolve(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        ref = schema["$ref"]
        target = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _types(schema: dict) -> list[str]:
    t = schema.get("type", [])
    return [t] if isinstance(t, str) else list(t)


def _coerce_scalar(value: str, types: list[str]):
    s = value.strip()
    if "integer" in types and INT_RE.match(s):
        return int(s)
    if "number" in types and FLOAT_RE.match(s):
        return int(s) if INT_RE.match(s) else float(s)
    if "boolean" in types and s.lower() in TRUE + FALSE:
        return s.lower() in TRUE
    if "null" in types and s.lower() in NULL:
        return None
    return value


def coerce(value, schema: dict, root: dict):
    """``value`` with strings that spell the number, boolean or null the schema wants converted."""
    schema = _resolve(schema, root)
    for option in schema.get("anyOf", []):
        opt = _resolve(option, root)
        if isinstance(value, dict) == ("object" in _types(opt)):
            return coerce(value, opt, root)
    types = _types(schema)
    if isinstance(value, str) and types and "string" not in types:
        return _coerce_scalar(value, types)
    if isinstance(value, str) and "null" in types and value.strip().lower() in NULL:
        return None
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: coerce(v, props[k], root) if k in props else v for k, v in value.items()}
    if isinstance(value, list):
        prefix, items = schema.get("prefixItems", []), schema.get("items")
        return [
            coerce(v, prefix[i] if i < len(prefix) else items, root) if (i < len(prefix) or items) else v
            for i, v in enumerate(value)
        ]
    return value


def _with_defaults(cls):
    """A validator class that also fills each missing property that has a ``default``."""
    base = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from base(validator, props, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": properties})


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> Iterator[str]:
    where = _key(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        valid = sorted(error.schema.get("properties", {}))
        for name in sorted(set(error.instance) - set(valid)):
            key = f"{where}.{name}" if error.absolute_path else name
            near = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(near)}? " if near else ""
            yield f"{key}: unknown key; {hint}valid keys here: {', '.join(valid)}"
        return
    yield f"{where}: {error.message}"


def validate_schema(config: dict, schema: dict) -> dict:
    """``config`` coerced (see module doc), checked against ``schema`` and completed with its defaults."""
    out = coerce(config, schema, schema)
    cls = _with_defaults(jsonschema.validators.validator_for(schema))
    errors = sorted(cls(schema).iter_errors(out), key=lambda e: [str(p) for p in e.absolute_path])
    lines = [line for e in errors for line in _describe(e)]
    if lines:
        more = f"\n  ... and {len(lines) - MAX_ERRORS} more" if len(lines) > MAX_ERRORS else ""
        raise ConfigError("invalid config:\n  " + "\n  ".join(lines[:MAX_ERRORS]) + more)
    return out


def file_keys(schema: dict, root: dict | None = None, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Key paths the schema marks ``format: file`` (a file the pipeline reads: it must be a rule input)."""
    root = root or schema
    schema = _resolve(schema, root)
    if schema.get("format") == "file":
        return [path]
    return [
        k for name, sub in schema.get("properties", {}).items() for k in file_keys(sub, root, (*path, name))
    ]


def _missing_files(config: dict, schema: dict) -> list[str]:
    """Every key the schema marks as a file path must name an existing file when set."""
    errors = []
    for path in file_keys(schema):
        value = config
        for part in path:
            value = value[part]
        if value and not Path(value).is_file():
            errors.append(f"{'.'.join(path)}: no such file '{value}'")
    return errors


def check_config(config: dict, schema: dict | str | Path) -> dict:
    """The checked config: schema (coerced, defaults filled), then cross-key rules; :class:`ConfigError` names keys.

    ``schema``: the schema, or the path of its YAML file.
    """
    schema = schema if isinstance(schema, dict) else load_yaml(schema)
    out = validate_schema(config, schema)
    errors = semantic_errors(out) + _missing_files(out, schema)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    return out


def merge(base: dict, over: Mapping) -> dict:
    """``base`` updated by ``over`` key by key, recursively (as Snakemake merges config files)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def check_files(paths: list[str | Path], schema_path: str | Path) -> dict:
    """Parse (file and line on a syntax error), merge in order and check config files as a run would."""
    config: dict = {}
    for path in paths:
        config = merge(config, load_yaml(path))
    return check_config(config, schema_path)


def check_syntax(*paths: str | Path) -> None:
    """Parse the existing ones of ``paths``: a YAML syntax error names the file and line."""
    for path in paths:
        if Path(path).is_file():
            load_yaml(path)
