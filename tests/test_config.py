"""Per-site params: typed, strict, with messages naming the file and the key."""

from __future__ import annotations

import pytest

from evalkit.config import ParamsError, SiteConfig, load_params, write_params


def test_round_trip_keeps_every_value(tmp_path):
    cfg = SiteConfig(site="kuopio", lang="sv", disclosure_threshold=10, sections=("costs",))
    assert load_params(write_params(cfg, tmp_path / "kuopio.yaml")) == cfg


def test_overrides_replace_file_values(tmp_path):
    path = write_params(SiteConfig(site="kuopio"), tmp_path / "k.yaml")
    assert load_params(path, lang="en").lang == "en"


@pytest.mark.parametrize(
    "text, needle",
    [
        ("site: kuopio\nlnag: fi\n", "unknown key 'lnag'"),
        ("lang: fi\n", "missing key 'site'"),
        ("site: kuopio\ndisclosure_threshold: many\n", "key 'disclosure_threshold'"),
        ("site: kuopio\nlang: de\n", "key 'lang'"),
        ("site: kuopio\nsections: [costs, astrology]\n", "key 'sections.1'"),
        ("- just\n- a list\n", "expected a mapping"),
        ("site: [unclosed\n", "cannot read params"),
    ],
)
def test_bad_params_name_file_and_key(tmp_path, text, needle):
    path = tmp_path / "site.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_missing_file_and_unsafe_yaml_are_refused(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    path = tmp_path / "evil.yaml"
    path.write_text("site: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ParamsError, match="cannot read"):
        load_params(path)
