"""Typed per-site parameters: ``params/<site>.yaml`` loaded and checked before any kernel starts.

A site's YAML names the site and the choices of its report. Unknown keys,
wrong types and missing required keys fail with a message naming the file and
the key, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .result import EvalkitError

__all__ = ["SiteConfig", "ParamsError", "load_params", "write_params", "SECTIONS"]

SECTIONS = ("quality", "effects", "duration", "costs", "sick_leave", "workforce")


class ParamsError(EvalkitError):
    """A params file is missing, unreadable or breaks the SiteConfig rules."""


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
    sections: tuple[Literal[SECTIONS], ...] = Field(SECTIONS, description="report sections to include")
    disclosure_threshold: int = Field(5, ge=2, le=50, description="counts 1..threshold-1 shown as '<threshold'")
    pilot_start: dt.date | None = Field(None, description="override the interruption date (default: first model_start)")
    caseload_target: float = Field(20, gt=0, description="recommended children per social worker")
    seed: int = Field(1, ge=0, description="seed of any resampling (bootstrap)")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="1 - confidence level")


def load_params(path: str | Path, **overrides: object) -> SiteConfig:
    """Load and check ``path``; ``overrides`` (e.g. ``lang``) replace keys of the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: params file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ParamsError(f"{path}: cannot read params ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of keys to values")
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


def _describe(err: dict) -> str:
    key = ".".join(str(p) for p in err["loc"]) or "(file)"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    if err["type"] == "missing":
        return f"missing key '{key}'"
    return f"key '{key}': {err['msg']}"
