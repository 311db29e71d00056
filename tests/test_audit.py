"""evalkit.audit: a rendered output folder passes, and each planted breach is found (file, rule, where).

One 2-site batch is rendered (Finnish) with the site report notebook; each
test copies it and plants one breach of a rule, so each rule is shown to
fail when it should, not only to pass.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from PIL import Image
from typer.testing import CliRunner

from evalkit import plots
from evalkit.report.plots._base import OVERLAP_KEY
from evalkit.audit import audit_output
from evalkit.cli import app
from evalkit.io import write_dataset
from evalkit.synth import synthesise


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    base = tmp_path_factory.mktemp("audit")
    ds = synthesise(sites=2, seed=8)
    data = write_dataset(ds.tables, ds.meta, base / "data")
    result = CliRunner().invoke(
        app,
        [
            "render",
            "--data",
            str(data),
            "--out",
            str(base / "out"),
            "--jobs",
            "2",
            "--lang",
            "fi",
            "--researcher-out",
            str(base / "researcher"),
        ],
    )
    return {"out": base / "out", "result": result, "researcher": base / "researcher"}


@pytest.fixture
def out(rendered, tmp_path):
    # the plants below need a rendered batch with pooled estimates on its index
    assert rendered["result"].exit_code == 0, rendered["result"].output
    index = (rendered["out"] / "index.html").read_text(encoding="utf-8")
    assert index.count("<img") >= 2 and "forest-numbers" in index, re.sub(r"data:image[^\"']+", "", index)[:3000]
    copy = tmp_path / "out"
    shutil.copytree(rendered["out"], copy)
    return copy


def _rules(folder) -> set[tuple[str, str]]:
    return {(f.file, f.rule) for f in audit_output(folder)}


def _edit(path, old: str | re.Pattern, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    changed = old.sub(new, text, count=1) if isinstance(old, re.Pattern) else text.replace(old, new, 1)
    assert changed != text, "nothing planted"
    path.write_text(changed, encoding="utf-8")


def test_the_rendered_folder_passes_and_render_says_so(rendered):
    assert rendered["result"].exit_code == 0, rendered["result"].output
    assert audit_output(rendered["out"]) == []
    manifest = json.loads((rendered["out"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["batch"]["audit"] == []


def test_researcher_copies_go_apart_from_the_published_folder_and_hold_what_it_withholds(rendered):
    kept = sorted(p.parent.name for p in rendered["researcher"].glob("*/results.json"))
    assert kept == sorted(p.parent.name for p in rendered["out"].glob("*/results.json"))
    site = kept[0]
    full = json.loads((rendered["researcher"] / site / "results.json").read_text(encoding="utf-8"))
    published = json.loads((rendered["out"] / site / "results.json").read_text(encoding="utf-8"))
    assert "km" in full["results"]["duration"] and "km" not in published["results"].get("duration", {})
    assert not list(rendered["out"].rglob("researcher*"))


def test_researcher_folder_inside_the_published_one_is_refused(tmp_path):
    ds = synthesise(sites=1, seed=8)
    data = write_dataset(ds.tables, ds.meta, tmp_path / "data")
    result = CliRunner().invoke(
        app,
        [
            "render",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "out"),
            "--researcher-out",
            str(tmp_path / "out" / "full"),
        ],
    )
    assert result.exit_code == 2 and "apart from --out" in result.output


def test_a_small_count_in_a_count_table_is_found_without_its_value(out):
    report = out / "kuopio" / "report.html"
    _edit(report, re.compile(r"(<table[^>]*evalkit-counts[^>]*>.*?<td>)[^<]*(</td>)", re.S), r"\g<1>3\g<2>")
    found = [f for f in audit_output(out) if f.rule == "small_count"]
    assert [f.file for f in found] == ["kuopio/report.html"]
    assert re.fullmatch(r"table \d+, row \d+", found[0].where)  # where it is, never what it is


def test_a_small_count_in_a_json_or_csv_file_is_found(out):
    doc = json.loads((out / "kuopio" / "results.json").read_text(encoding="utf-8"))
    doc["extra"] = {"n_event": 2}
    (out / "kuopio" / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    (out / "kuopio" / "extra.csv").write_text("group,n\na,12\nb,4\n", encoding="utf-8")
    assert {("kuopio/results.json", "small_count"), ("kuopio/extra.csv", "small_count")} <= _rules(out)


def test_nan_inf_and_placeholders_in_prose_are_found(out):
    for word in ("nan", "inf", ".."):
        copy = out.parent / f"out_{word}"
        shutil.copytree(out, copy)
        _edit(copy / "kuopio" / "report.html", re.compile(r"(<p>[^<]{10,}?)(</p>)"), rf"\g<1> {word}\g<2>")
        assert ("kuopio/report.html", "not_a_number") in _rules(copy), word


def test_a_figure_without_alt_text_is_found(out):
    _edit(out / "index.html", re.compile(r'<img alt="[^"]*"'), '<img alt=""')
    assert ("index.html", "no_alt") in _rules(out)


def _png(overlaps: str | None) -> str:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={} if overlaps is None else {OVERLAP_KEY: overlaps})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.mark.parametrize("recorded, rule", [(None, "unchecked_figure"), ("2", "tick_overlap")])
def test_a_figure_with_overlapping_or_unchecked_tick_labels_is_found(out, recorded, rule):
    _edit(out / "index.html", re.compile(r"data:image/png;base64,[^\"']+"), f"data:image/png;base64,{_png(recorded)}")
    assert ("index.html", rule) in _rules(out)


def test_an_index_interval_other_than_the_sites_is_found(out):
    # the index recomputing a site's interval (estimate +- 1.96 SE) gave 1.16 where the site said 1.17
    _edit(
        out / "index.html",
        re.compile(r"(<tr><th>(?:Kuopio|Jyväskylä)</th><td>[^<]*</td><td>)[^<]*(</td>)"),
        r"\g<1>0,01…0,02\g<2>",
    )
    assert ("index.html", "interval_differs") in _rules(out)


def test_a_summary_quoting_a_withheld_estimate_is_found(out):
    path = out / "kuopio" / "results.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    quoted = next(
        name for name, est in doc["key_estimates"].items() if est["ci_low"] is not None and not est["withheld"]
    )
    doc["key_estimates"][quoted]["withheld"] = "counts under 5"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert ("kuopio/report.html", "withheld_quoted") in _rules(out)


def test_a_summary_interval_other_than_results_json_is_found(out):
    path = out / "kuopio" / "results.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    name = next(n for n, est in doc["key_estimates"].items() if est["ci_low"] is not None and est["ratio"])
    doc["key_estimates"][name]["ci_low"] -= 0.05
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert ("kuopio/report.html", "interval_differs") in _rules(out)


def test_a_report_naming_other_data_is_found(out):
    path = out / "kuopio" / "results.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["stamp"]["dataset"]["sha256"] = "0" * 64
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert ("kuopio/results.json", "hash_differs") in _rules(out)


def test_a_failed_sites_debug_notebook_is_found(out):
    (out / "kuopio" / "_work").mkdir()
    (out / "kuopio" / "_work" / "report.ipynb").write_text("{}", encoding="utf-8")
    assert ("kuopio/_work/report.ipynb", "debug_notebook") in _rules(out)


def test_the_audit_command_exits_1_with_findings_and_0_without(rendered, out):
    runner = CliRunner()
    clean = runner.invoke(app, ["audit", str(rendered["out"])])
    assert clean.exit_code == 0 and "nothing found" in clean.output
    _edit(out / "index.html", re.compile(r'<img alt="[^"]*"'), '<img alt=""')
    found = runner.invoke(app, ["audit", str(out)])
    assert found.exit_code == 1 and "no_alt" in found.output and "Traceback" not in found.output


def test_crowded_tick_labels_are_thinned_or_turned_before_saving():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_xticks(range(40))
    assert plots.overlapping_tick_labels(fig) > 0
    png = Image.open(io.BytesIO(base64.b64decode(plots.to_base64_png(fig))))
    assert png.text[OVERLAP_KEY] == "0"
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar([f"a long service name {i}" for i in range(6)], range(6))
    assert plots.overlapping_tick_labels(fig) > 0
    png = Image.open(io.BytesIO(base64.b64decode(plots.to_base64_png(fig))))
    assert png.text[OVERLAP_KEY] == "0"
    assert {t.get_rotation() for t in ax.get_xticklabels() if t.get_visible()} == {90.0}
    assert all(t.get_visible() for t in ax.get_xticklabels())  # every category keeps its name
