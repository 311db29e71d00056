"""``evalkit params``: one params YAML per site of a dataset, and a commented template (private).

The template is written from :class:`~evalkit.config.SiteConfig` itself
(each field's description, type and default), so it cannot drift from the
rules the renderer checks.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from evalkit.render._files import atomic_write
from evalkit.data.config import SiteConfig

__all__ = ["write_site_params", "template_text"]

_HEAD = """\
# Parameters of one site's report: copy to params/<site_id>.yaml and edit.
# The file name must be the site_id; `evalkit render` checks every file
# against these rules before any notebook runs (unknown keys and wrong types
# fail that site with a message naming the file and the key).
# Generated from evalkit.config.SiteConfig by `evalkit params`.
"""


def template_text() -> str:
    """The commented ``_template.yaml``: every key, what it means, its default."""
    lines = [_HEAD]
    for name, field in SiteConfig.model_fields.items():
        lines.append(f"# {field.description}")
        if field.is_required():
            lines.append(f"{name}: your_site_id  # required")
        else:
            value = SiteConfig.model_validate({"site": "x"}).model_dump(mode="json")[name]
            value = list(value) if isinstance(value, tuple) else value
            dumped = (
                yaml.safe_dump({name: value}, sort_keys=False, allow_unicode=True, default_flow_style=True)
                .strip()
                .strip("{}")
            )
            lines.append(dumped)
    return "\n".join(lines) + "\n"


def write_site_params(
    site_ids: list[str], out: Path, *, lang: str | None = None, force: bool = False
) -> tuple[list[Path], list[Path]]:
    """Write ``out/<site>.yaml`` (defaults) for each site, and ``out/_template.yaml``.

    Existing site files are kept (they may be edited by hand) unless ``force``.
    Returns (files written, files kept).
    """
    out.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for site in site_ids:
        path = out / f"{site}.yaml"
        if path.exists() and not force:
            kept.append(path)
            continue
        cfg = SiteConfig(site=site, **({"lang": lang} if lang else {}))
        data = cfg.model_dump(mode="json")
        data["sections"] = list(data["sections"])
        atomic_write(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        written.append(path)
    atomic_write(out / "_template.yaml", template_text())
    return written, kept
