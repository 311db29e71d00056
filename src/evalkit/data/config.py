"""Typed per-site parameters: ``params/<site>.yaml`` loaded and checked before any kernel starts.

A site's YAML names the site and the choices of its report. Unknown keys,
wrong types and missing required keys fail with a message naming the file and
the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.core.result import EvalkitError

__all__ = [
    "SiteConfig",
    "ParamsError",
    "DuplicateKeyError",
    "load_params",
    "write_params",
    "safe_load_unique",
    "SECTIONS",
]

_Section = Literal["quality", "effects", "duration", "costs", "sick_leave", "workforce"]
SECTIONS: tuple[_Section, ...] = get_args(_Section)


class ParamsError(EvalkitError):
    """A params file is missing, unreadable or breaks the SiteConfig rules."""


class DuplicateKeyError(yaml.YAMLError):
    """A YAML mapping names the same key twice (PyYAML would silently keep the last value)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} appears twice")
        self.key = key


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (no object construction) that refuses a key given twice."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[str] = set()
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode):
            if key.value in seen:
                raise DuplicateKeyError(key.value)
            seen.add(key.value)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def safe_load_unique(text: str) -> object:
    """``yaml.safe_load`` that also refuses duplicated keys (:class:`DuplicateKeyError`).

    A params or manifest file with ``extracted_on`` written twice must not
    silently mean whichever came last.

    Examples
    --------
    >>> safe_load_unique("site: kuopio\\nsite: joensuu\\n")
    Traceback (most recent call last):
    ...
    evalkit.data.config.DuplicateKeyError: key 'site' appears twice
    """
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


class SiteConfig(BaseModel):
    """What one site's report needs to know; every field has a documented meaning.

    Examples
    --------
    >>> cfg = SiteConfig(site="kuopio", lang="fi")
    >>> print(cfg.disclosure_threshold)
    5
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str = Field(pattern=r"^[a-z0-9_\-]+$", description="site_id in the sites table")
    lang: Literal["fi", "sv", "en"] = Field("fi", description="report language")
    sections: tuple[_Section, ...] = Field(SECTIONS, description="report sections to include")
    disclosure_threshold: int = Field(5, ge=2, le=50, description="counts 1..threshold-1 shown as '<threshold'")
    pilot_start: dt.date | None = Field(None, description="override the interruption date (default: first model_start)")
    caseload_target: float = Field(20, gt=0, description="recommended children per social worker")
    seed: int = Field(1, ge=0, description="seed of any resampling (bootstrap)")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="1 - confidence level")


def load_params(path: str | Path, **overrides: object) -> SiteConfig:
    """Load and check ``path``; ``overrides`` (e.g. ``lang``) replace keys of the file."""
    path = Path(path)
    try:
        raw = safe_load_unique(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: params file not found") from None
    except DuplicateKeyError as exc:
        raise ParamsError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ParamsError(f"{path}: cannot read params ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of keys to values")
    odd = [k for k in raw if not isinstance(k, str)]
    if odd:  # YAML reads `1:`, `yes:` and `on:` as a number or true
        raise ParamsError(
            f"{path}: key(s) {', '.join(repr(k) for k in odd)} are not names: "
            "params keys are words such as lang or alpha"
        )
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SiteConfig(**raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ParamsError(f"{path}: {problems}") from None


def write_params(config: SiteConfig, path: str | Path) -> Path:
    """Write ``config`` as YAML (keys in declaration order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = config.model_dump(mode="json")
    data["sections"] = list(data["sections"])
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _describe(err: Mapping[str, Any]) -> str:
    key = ".".join(str(p) for p in err["loc"]) or "(file)"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    if err["type"] == "missing":
        return f"missing key '{key}'"
    return f"key '{key}': {err['msg']}"
