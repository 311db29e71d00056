"""Raw-extract benchmark: validating exports as client systems give them, against the contract's own CSVs.

Synthesises ``--sites`` sites and writes them twice: as contract CSVs (the
baseline) and the way Finnish client and payroll systems export them
(``evalkit synth --format export``: Windows-1252, ``;``, decimal commas,
dd.mm.yyyy, Finnish headers and values, workbooks with a sheet per table),
with the mapping ``evalkit inspect`` drafts and its two ``TODO``s filled in.
Then it times :func:`evalkit.validation.validate` on each, ``--repeat``
times, keeping the fastest, and checks that both give the same tables.

The last line is ``contract_s=<s> export_s=<s> export_over_contract=<ratio>
rows=<n>``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from evalkit.data.extract import draft_manifest
from evalkit.io import write_dataset
from evalkit.synth import synthesise, write_client_export
from evalkit.validation import validate


def _fastest(folder: Path, repeat: int) -> tuple[float, dict]:
    best, tables = float("inf"), {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        tables = validate(folder).tables
        best = min(best, time.perf_counter() - t0)
    return best, tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    ds = synthesise(sites=args.sites, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        plain = write_dataset(ds.tables, ds.meta, Path(tmp) / "contract")
        raw = write_client_export(ds.tables, Path(tmp) / "export")
        draft = (
            draft_manifest(raw)
            .replace("name: TODO", "name: benchmark")
            .replace("extracted_on: TODO", f"extracted_on: {ds.meta['extracted_on']:%Y-%m-%d}")
        )
        (raw / "dataset.yaml").write_text(draft, encoding="utf-8")
        contract_s, expected = _fastest(plain, args.repeat)
        export_s, got = _fastest(raw, args.repeat)
    for name, table in expected.items():  # the same rows, values and types, or the timing means nothing
        pd.testing.assert_frame_equal(got[name].reset_index(drop=True), table.reset_index(drop=True), obj=name)
    rows = sum(len(t) for t in expected.values())
    print(f"{args.sites} site(s), {rows:,} rows; fastest of {args.repeat}")
    print(
        f"contract_s={contract_s:.2f} export_s={export_s:.2f} export_over_contract={export_s / contract_s:.2f} "
        f"rows={rows}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
