"""A reduced run of benchmarks/validity.py: headlines that estimate what they say, with honest intervals.

The full run (200+ replicates per scenario) is in the resolution notes; here
24 replicates of 4 sites. The bounds leave room for Monte Carlo error (a
correct 95% interval falls under 0.85 coverage in 96 site estimates with
probability about 1e-4) but not for the failures this harness was built to
catch: the old site-wide cost ITS covered 25% of the time and the old
cross-sectional Cox 72%, with one null site in four "significant".
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "validity.py"


def _run(tmp_path: Path, scenario: str) -> list[dict]:
    out = tmp_path / f"{scenario}.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--replicates",
            "24",
            "--sites",
            "4",
            "--scenario",
            scenario,
            "--jobs",
            "2",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith(f"validity scenario={scenario} replicates=24 sites=4 min_coverage="), last
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["default", "null", "stress"])
def test_every_headline_covers_its_truth(tmp_path, scenario):
    rows = _run(tmp_path, scenario)
    names = {r["name"] for r in rows}
    assert names == {"hr_case_end", "hr_placement", "cost_level", "cost_slope", "sick_leave_rr", "survey_change"}
    for r in rows:
        where = (r["name"], r["level"])
        assert r["shown"] >= 0.9, where  # the design supports an interval at every synthetic site
        assert r["coverage"] >= (0.85 if r["level"] == "site" else 0.75), (where, r["coverage"])
        # a bias of a quarter SE is tolerable; beyond it, three Monte Carlo SEs of the mean bias (in SE
        # units: sd_se / sqrt(n)). A fixed 0.5 ignored that the 24 pooled estimates have a Monte Carlo SE
        # near 0.2: seeds 10000-10023 of the stress scenario gave +0.65, seeds 10000-10119 +0.05. The old
        # diluted cost estimate was about 7 SEs off.
        bound = 0.25 + 3 * r["sd_se"] / math.sqrt(r["n"])
        assert abs(r["bias_se"]) < bound, (where, r["bias_se"], bound)
        if scenario == "null" and r["level"] == "site":
            assert r["reject"] <= 0.15, (where, r["reject"])
