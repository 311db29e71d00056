"""Do the headlines estimate what they say, with intervals that cover the truth about 95% of the time?

A Monte Carlo over evalkit's own synthetic data with known effects: each
replicate synthesises ``--sites`` sites with a new seed, runs
:func:`evalkit.site.analyse` on every site exactly as the report notebook
does, keeps each site's key estimates as ``results.json`` holds them, and
pools them as ``index.html`` does (:func:`evalkit.index.site_estimates`,
:func:`evalkit.index.pooled_estimates`). Then, per key estimate and level
(site, pooled), against the truth recorded in ``dataset.yaml``:

- ``truth``, ``mean`` estimate, ``bias`` and ``bias_se`` (bias in units of the mean SE);
- ``sd_se``: the empirical SD of the estimates over the mean SE (1 when the SEs are honest);
- ``coverage`` of the intervals shown, with its Monte Carlo SE ``mc_se``;
- ``reject``: share of intervals that exclude no effect (the null rejection
  rate in the ``null`` scenario, power otherwise);
- ``shown``: share of estimates that carry an interval.

Scenarios: ``default`` (the documented effects), ``null`` (no effects) and
``stress`` (the effects, plus extra team effects on every outcome, a
calendar shock common to all teams and autocorrelated monthly costs:
:class:`evalkit.synth.Stress`). The last line is one-line summary::

    validity scenario=<s> replicates=<n> sites=<k> min_coverage=<c> (<name>/<level>) max_coverage=<c>
    max_reject_null=<r> max_abs_bias_se=<b> min_shown=<s> seconds=<t>

``max_reject_null`` is only meaningful in the ``null`` scenario (``nan`` otherwise).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import time
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per worker: the workers are the parallelism
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from evalkit import index, site, stamp
from evalkit.config import SiteConfig
from evalkit.synth import Effects, Stress, synthesise

SCENARIOS = {
    "default": (Effects(), Stress()),
    "null": (Effects.null(), Stress()),
    "stress": (Effects(), Stress(team_sd=0.3, calendar_shock=0.3, cost_ar=0.6)),
}
#: truths that are ratios are compared on the log scale, as the estimates are
_RATIO_TRUTHS = {"hr_close", "hr_placement", "cost_level_ratio", "cost_slope_ratio", "sick_leave_rr"}


def _truths(meta: dict) -> dict[str, float]:
    out = {}
    for name, (_, _, _, key) in site.KEY_ESTIMATES.items():
        value = float(meta["true_effects"][key]["value"])
        out[name] = math.log(value) if key in _RATIO_TRUTHS else value
    return out


def replicate(job: tuple[str, int, int]) -> list[dict]:
    """One synthetic dataset: every site's key estimates and the pooled ones, with the truth."""
    scenario, sites, seed = job
    warnings.simplefilter("ignore")
    effects, stress = SCENARIOS[scenario]
    data = synthesise(sites=sites, seed=seed, effects=effects, stress=stress)
    truth = _truths(data.meta)
    rows, docs = [], {}
    for site_id, tables in site.split_sites(data.tables).items():
        res = site.analyse(tables, data.meta, SiteConfig(site=site_id))
        docs[site_id] = json.loads(json.dumps(stamp.results_document(res, {}), default=str))
        for name, est in docs[site_id]["key_estimates"].items():
            rows.append(
                {
                    "seed": seed,
                    "level": "site",
                    "site": site_id,
                    "name": name,
                    "truth": truth[name],
                    **{k: est.get(k) for k in ("estimate", "se", "ci_low", "ci_high")},
                }
            )
    for name, fit in index.pooled_estimates(index.site_estimates(docs)).items():
        if isinstance(fit, str):
            continue
        row = fit["pooled"]
        rows.append(
            {
                "seed": seed,
                "level": "pooled",
                "site": "",
                "name": name,
                "truth": truth[name],
                "estimate": row["estimate"],
                "se": row["se"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
            }
        )
    return rows


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per key estimate and level: the figures the module docstring lists."""
    out = []
    for (name, level), g in rows.groupby(["name", "level"], sort=False):
        g = g.astype({c: float for c in ("estimate", "se", "ci_low", "ci_high")})
        shown = g.dropna(subset=["ci_low", "ci_high"])
        cover = ((shown["ci_low"] <= shown["truth"]) & (shown["truth"] <= shown["ci_high"])).mean()
        reject = ((shown["ci_low"] > 0) | (shown["ci_high"] < 0)).mean()
        n = len(shown)
        mean_se = g["se"].mean()
        bias = (g["estimate"] - g["truth"]).mean()
        out.append(
            {
                "name": name,
                "level": level,
                "n": len(g),
                "truth": g["truth"].mean(),
                "mean": g["estimate"].mean(),
                "bias": bias,
                "bias_se": bias / mean_se,
                "sd_se": g["estimate"].std(ddof=1) / mean_se,
                "coverage": cover,
                "mc_se": math.sqrt(cover * (1 - cover) / n) if n else float("nan"),
                "reject": reject,
                "shown": n / len(g),
            }
        )
    return pd.DataFrame(out)


def _summary_line(table: pd.DataFrame, scenario: str, replicates: int, sites: int, seconds: float) -> str:
    worst = table.loc[table["coverage"].idxmin()]
    null = table["reject"].max() if scenario == "null" else float("nan")
    return (
        f"validity scenario={scenario} replicates={replicates} sites={sites} "
        f"min_coverage={worst['coverage']:.3f} ({worst['name']}/{worst['level']}) "
        f"max_coverage={table['coverage'].max():.3f} max_reject_null={null:.3f} "
        f"max_abs_bias_se={table['bias_se'].abs().max():.3f} min_shown={table['shown'].min():.3f} "
        f"seconds={seconds:.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="default")
    parser.add_argument("--sites", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=10_000, help="seed of the first replicate")
    parser.add_argument("--rows", type=Path, help="write every estimate to this CSV")
    parser.add_argument("--json", type=Path, help="write the summary table to this JSON file")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    jobs = [(args.scenario, args.sites, args.seed + r) for r in range(args.replicates)]
    rows: list[dict] = []
    with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("fork")) as pool:
        for done, part in enumerate(pool.map(replicate, jobs), 1):
            rows += part
            print(f"\r{done}/{args.replicates} replicates", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    frame = pd.DataFrame(rows)
    if args.rows:
        frame.to_csv(args.rows, index=False)
    table = summarise(frame)
    if args.json:
        args.json.write_text(table.to_json(orient="records", indent=1), encoding="utf-8")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(_summary_line(table, args.scenario, args.replicates, args.sites, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
