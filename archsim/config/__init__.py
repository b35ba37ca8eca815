"""Loading and validating YAML configs (chips, technology tables, sweeps).

Every chip config names its ``family`` (``manycore``, ``h2learn`` or ``gpu``); the family's JSON
schema (``schemas/<family>.yaml``, written as YAML) validates it on load. Errors are one line naming
the file, the key and what is allowed (:class:`archsim.errors.UserError`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from archsim.config.derive import derive_components
from archsim.errors import UserError

SCHEMA_DIR = Path(__file__).parent / "schemas"
FAMILIES = ("manycore", "h2learn", "gpu")


def read_yaml(path: str | Path) -> dict:
    """Parse a YAML mapping, or raise a one-line UserError naming the file."""
    from archsim.guard.yaml_files import load_yaml

    path = Path(path)
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top level")
    return data


@lru_cache(maxsize=None)
def schema(name: str) -> dict:
    """The JSON schema ``archsim/config/schemas/<name>.yaml`` as a dict."""
    return yaml.safe_load((SCHEMA_DIR / f"{name}.yaml").read_text())


@lru_cache(maxsize=None)
def _registry() -> Registry:
    """Every schema file, so that one can ``$ref`` another (``common.yaml#/$defs/components``)."""
    return Registry().with_resources(
        (p.name, Resource.from_contents(schema(p.stem), default_specification=DRAFT202012))
        for p in SCHEMA_DIR.glob("*.yaml"))


def validate(data: dict, schema_name: str, source: str) -> None:
    """Validate ``data`` against a named schema; the first error becomes a one-line UserError."""
    validator = jsonschema.Draft202012Validator(schema(schema_name), registry=_registry())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        raise UserError(f"{source}: {describe(errors[0])}")


def describe(error: jsonschema.ValidationError) -> str:
    """Render a jsonschema error as 'key.path: problem (allowed: ...)'."""
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        prefix = f"{key}." if error.absolute_path else ""
        return f"{prefix}{extra[0]}: unknown key (allowed: {', '.join(allowed)})"
    if error.validator == "required":
        missing = error.message.split("'")[1]
        prefix = f"{key}." if error.absolute_path else ""
        return f"{prefix}{missing}: required key is missing"
    if error.validator == "enum":
        return f"{key}: {error.instance!r} is not allowed (allowed: {', '.join(map(str, error.validator_value))})"
    if error.validator in ("minimum", "exclusiveMinimum"):
        op = ">=" if error.validator == "minimum" else ">"
        return f"{key}: {error.instance!r} is too small (allowed: {op} {error.validator_value})"
    if error.validator in ("maximum", "exclusiveMaximum"):
        op = "<=" if error.validator == "maximum" else "<"
        return f"{key}: {error.instance!r} is too large (allowed: {op} {error.validator_value})"
    if error.validator == "type":
        return f"{key}: {error.instance!r} is not of type {error.validator_value}"
    return f"{key}: {error.message}"


@dataclass
class Chip:
    """A validated chip config.

    ``params`` is the YAML mapping as loaded with the derived component attributes filled in
    (:mod:`archsim.config.derive`); ``given`` is the mapping as written, which overrides edit.
    """

    name: str
    family: str
    path: Path
    params: dict = field(repr=False)
    given: dict | None = field(default=None, repr=False)

    def get(self, dotted: str):
        """Value at a dotted key path (``core.neurons``)."""
        node = self.params
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise UserError(f"{self.path}: {dotted}: no such key")
            node = node[part]
        return node

    def with_overrides(self, overrides: dict) -> "Chip":
        """A copy with dotted keys set to new values, derived and validated again.

        A key may be one the config gives or one derived from it; setting a derived attribute to a
        value other than its derivation is an error (:func:`archsim.config.derive.derive_components`)."""
        given = copy.deepcopy(self.params if self.given is None else self.given)
        for dotted, value in overrides.items():
            self.get(dotted)        # the key must exist, given or derived
            node = given
            parts = dotted.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        return Chip(self.name, self.family, self.path, _derived(given, self.family, self.path), given)

    def resolve(self, relative: str) -> Path:
        """A path named in the config, relative to the config's folder."""
        return (self.path.parent / relative).resolve()


def load_chip(path: str | Path) -> Chip:
    """Read and validate a chip config."""
    path = Path(path)
    data = read_yaml(path)
    family = data.get("family")
    if family not in FAMILIES:
        raise UserError(f"{path}: family: {family!r} is not allowed (allowed: {', '.join(FAMILIES)})")
    return Chip(name=str(data.get("name", path.stem)), family=family, path=path,
                params=_derived(data, family, path), given=data)


def _derived(given: dict, family: str, path: Path) -> dict:
    """``given`` with its derived component attributes, validated against the family's schema."""
    params = derive_components(given, family, path)
    validate(params, family, str(path))
    return params
