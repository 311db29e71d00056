"""evalkit.datasets: one copy of each published data set, each with its source."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from evalkit import InputError, datasets

ROOT = Path(__file__).resolve().parents[1]


def test_every_bundled_file_is_named_with_its_source_and_nothing_else_is():
    readme = (Path(datasets.__file__).parent / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^- `(\w+)\.csv`: \S", readme, flags=re.M))
    assert listed == set(datasets.names()) and len(listed) >= 20


def test_load_reads_the_file_as_pandas_does_and_passes_options():
    lung = datasets.load("lung")
    assert lung.shape == (228, 10) and lung.equals(pd.read_csv(datasets.path("lung")))
    assert list(datasets.load("lung", usecols=["time", "status"])) == ["time", "status"]


def test_an_unknown_name_lists_where_to_look():
    with pytest.raises(InputError, match=r"no bundled data set named 'iris'; evalkit.datasets.names\(\) lists them"):
        datasets.load("iris")


def test_no_second_copy_of_a_bundled_data_set_in_the_repository():
    bundled = set(datasets.names())
    copies = [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.csv")
        if p.stem in bundled
        and "datasets" not in p.parts
        and ".venv" not in p.parts
        and not {"build", "reports", "data"} & set(p.relative_to(ROOT).parts[:1])
    ]
    assert copies == []
