"""Plain-language sentences about estimates, in fi, sv and en (private to :mod:`evalkit.report`).

Every number goes through :mod:`evalkit.i18n` (decimal comma in fi and sv);
every sentence is a template in ``locale/labels.yaml``. An estimate is
described by its direction, its value with the confidence interval, and
what the interval says: whether it includes "no effect", and whether few
teams make it unreliable.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from evalkit.site.support import NO_PRE_PERIOD, ONE_PERIOD, SAME_START
from evalkit.data.config import SiteConfig
from evalkit.core.i18n import fmt_ci, fmt_number, fmt_percent, label
from evalkit.core.result import Result

__all__ = [
    "Estimate",
    "estimate_from_row",
    "level",
    "signed_percent",
    "first_sentence",
    "not_estimable",
    "missing_reason",
    "caveats",
    "design_limits",
    "design_reason",
    "evidence",
    "evidence_short",
]

#: text in quotes in an error message is a value from the data (a team, a site): never shown
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_URL = re.compile(r"https?://\S+")
#: a ratio interval spanning more than this factor bounds nothing a reader can use
UNINFORMATIVE_FOLD = 100.0


def level(cfg: SiteConfig) -> str:
    """The confidence level as shown, e.g. ``95``."""
    return fmt_number(100 * (1 - cfg.alpha), cfg.lang, 0 if (100 * cfg.alpha).is_integer() else 1)


def signed_percent(ratio: float, lang: str) -> str:
    """A ratio as a percentage change with its sign: 0.9 -> ``−10 %``, 1.05 -> ``+5 %``."""
    change = ratio - 1
    digits = 0 if abs(change) >= 0.095 else 1
    text = fmt_percent(change, lang, digits)
    return text if text.startswith(("-", "\u2212")) else "+" + text


def first_sentence(reason: str) -> str:
    """The first sentence of an error message, without links or the quoted values it may carry (team names)."""
    text = _URL.sub("", _QUOTED.sub("…", reason)).strip()
    return text.split(". ")[0].strip().rstrip(".:")


def not_estimable(reason: str, cfg: SiteConfig, short: bool = False) -> str:
    """The plain sentence (or, ``short``, phrase) shown in place of an analysis that could not run."""
    return label("not_estimable_short" if short else "not_estimable", cfg.lang, reason=design_reason(reason, cfg))


def missing_reason(tabs: dict[str, pd.DataFrame], key: str, default: str) -> str:
    """Why the result ``key`` of an analysis that ran is missing (its ``not_estimable`` table)."""
    table = tabs.get("not_estimable")
    return str(table.loc[key, "reason"]) if table is not None and key in table.index else default


class Estimate:
    """One estimate with its CI, on the scale it is shown on (ratios exponentiated)."""

    def __init__(self, value: float, low: float, high: float, *, ratio: bool, result: Result | None = None):
        self.value, self.low, self.high, self.ratio, self.result = value, low, high, ratio, result

    @property
    def null(self) -> float:
        return 1.0 if self.ratio else 0.0

    @property
    def up(self) -> bool:
        return self.value >= self.null

    @property
    def descriptive(self) -> str | None:
        """Why the design supports no interval, if it does not."""
        return self.result.stats.get("descriptive") if self.result is not None else None

    @property
    def clear(self) -> bool:
        """The CI excludes "no effect"."""
        return not (self.low <= self.null <= self.high)

    @property
    def kind(self) -> str:
        """What the evidence allows a sentence to claim: the one input of the wording rules.

        ``"descriptive"`` (the design supports no interval), ``"unbounded"`` (no
        finite interval, or a ratio interval spanning more than
        :data:`UNINFORMATIVE_FOLD`-fold: too little data), ``"clear"`` (the
        interval excludes no difference: a direction may be named) or
        ``"unclear"`` (it includes or touches no difference: no direction).
        """
        if self.descriptive:
            return "descriptive"
        values = np.array([self.value, self.low, self.high], dtype=float)
        if not np.isfinite(values).all():
            return "unbounded"
        if self.ratio and (values.min() <= 0 or self.high / self.low > UNINFORMATIVE_FOLD):
            return "unbounded"
        return "clear" if self.clear else "unclear"

    def digits(self, base: int = 2) -> int:
        """Decimals to show: ``base``, more where a clear interval's limits would round to no difference."""
        if self.kind != "clear":
            return base
        for digits in range(base, base + 3):
            if all(round(v, digits) != self.null for v in (self.value, self.low, self.high)):
                return digits
        return base + 3

    def numbers(self, measure_key: str, cfg: SiteConfig, digits: int = 2) -> str:
        """``hazard ratio 1,31 (95 %:n luottamusväli 1,10…1,56)``; the value alone for a description."""
        digits = self.digits(digits)
        if self.descriptive:
            return label(
                "estimate_only",
                cfg.lang,
                measure=label(measure_key, cfg.lang),
                value=fmt_number(self.value, cfg.lang, digits),
            )
        return label(
            "estimate_ci",
            cfg.lang,
            measure=label(measure_key, cfg.lang),
            value=fmt_number(self.value, cfg.lang, digits),
            level=level(cfg),
            ci=fmt_ci(self.low, self.high, cfg.lang, digits),
        )

    def certainty(self, cfg: SiteConfig, short: bool = False) -> str:
        """Whether the interval includes no effect, in a sentence (or a short phrase); or why there is none."""
        if self.descriptive:
            return label(
                "descriptive_short" if short else "descriptive_only",
                cfg.lang,
                reason=design_reason(self.descriptive, cfg),
            )
        key = (
            ("sure_yes" if short else "ci_excludes_null")
            if self.clear
            else ("sure_no" if short else "ci_includes_null")
        )
        return label(key, cfg.lang, null=fmt_number(self.null, cfg.lang, 0))


def estimate_from_row(result: Result, row: str, scale: str) -> Estimate:
    """The Estimate of one row of a Result.

    ``scale`` is ``"log"`` (a log ratio in ``estimate``: shown exponentiated),
    ``"ratio"`` (the ``ratio`` columns, as crude rate comparisons give) or
    ``"difference"`` (shown as it is).
    """
    r = result.table.loc[row]
    if scale == "log":
        with np.errstate(over="ignore"):  # a bound beyond e^709 is shown as unbounded, not an error
            values = [np.exp(r[c]) for c in ("estimate", "ci_low", "ci_high")]
    elif scale == "ratio":
        values = [r[c] for c in ("ratio", "ratio_ci_low", "ratio_ci_high")]
    else:
        values = [r[c] for c in ("estimate", "ci_low", "ci_high")]
    return Estimate(*map(float, values), ratio=scale != "difference", result=result)


def caveats(result: Result, cfg: SiteConfig, short: bool = False) -> list[str]:
    """Readable forms of a Result's warnings: few clusters by name, the rest counted."""
    shown = list(result.warnings)
    clusters = [w for w in shown if "cluster" in w.lower()]
    others = [w for w in shown if "cluster" not in w.lower()]
    out = []
    if clusters:
        n = result.stats.get("n_clusters")
        if short:
            out.append(label("few_clusters_short", cfg.lang))
        else:
            out.append(label("few_clusters", cfg.lang, n=n if n is not None and not pd.isna(n) else "?"))
    if others and not short:
        out.append(label("other_caveats", cfg.lang, n=len(others)))
    return out


#: reasons of evalkit.site.support, by their label keys
_REASONS = {NO_PRE_PERIOD: "reason_no_pre_period", SAME_START: "reason_same_start", ONE_PERIOD: "reason_one_period"}


def design_reason(reason: str, cfg: SiteConfig) -> str:
    """Why a design supports no interval, in the report's language (other reasons scrubbed as they are)."""
    key = _REASONS.get(reason)
    return label(key, cfg.lang) if key else first_sentence(reason)


def design_limits(result: Result, cfg: SiteConfig) -> list[str]:
    """Sentences on the limits of a site's design where they bite: one pilot team, few teams, short follow-up."""
    st = result.stats
    out = []
    pilot, comparison = st.get("n_pilot_teams"), st.get("n_comparison_teams")
    if pilot == 1:
        out.append(label("limit_one_pilot", cfg.lang))
    elif pilot is not None and comparison is not None and pilot + comparison <= 4:
        out.append(label("limit_few_teams", cfg.lang, pilot=pilot, comparison=comparison))
    if st.get("months_after_start", 12) < 12:
        out.append(label("limit_short_follow", cfg.lang))
    if st.get("period_months") == 0:
        out.append(label("limit_no_calendar", cfg.lang))
    return out


def evidence(name: str, est: Estimate, measure: str, cfg: SiteConfig, digits: int = 2) -> list[str]:
    """The sentences about one estimate that its interval allows: the wording rules, in one place.

    - ``clear`` (the interval excludes no difference): the direction word of
      ``{name}_up``/``{name}_down``, the percentage change for ratios, the
      numbers, and what the interval says;
    - ``unclear`` (it includes or touches no difference): no direction word and
      no percentage: the data cannot tell, and the range of values they fit;
    - ``unbounded`` (no finite or no useful interval): too little data, and
      no numbers at all (never "inf", "nan" or "..");
    - ``descriptive`` (the design supports no interval): the plain comparison
      and why there is no interval (:meth:`Estimate.certainty`).

    Examples
    --------
    >>> cfg = SiteConfig(site="demo", lang="en")
    >>> print(evidence("sick_leave_rr", Estimate(0.37, 0.12, 1.17, ratio=True), "rate_ratio", cfg)[0])
    The data cannot tell whether sick leave in pilot teams rose or fell after their start compared with
    the same teams before it, allowing for comparison teams: the values they fit run from 0.12 to 1.17
    (rate ratio, 95% confidence interval; estimate 0.37).
    """
    kind, lang = est.kind, cfg.lang
    what = label(f"{name}_what", lang)
    if kind == "descriptive":
        plain = "rate_ratio" if measure == "ratio_of_rate_ratios" else measure
        return [label("descriptive_sentence", lang, numbers=est.numbers(plain, cfg, digits)), est.certainty(cfg)]
    if kind == "unbounded":
        return [label("too_little_data", lang, what=what, level=level(cfg))]
    if kind == "unclear":
        d = est.digits(digits)
        return [
            label(
                "unclear_sentence",
                lang,
                what=what,
                measure=label(measure, lang),
                level=level(cfg),
                low=fmt_number(est.low, lang, d),
                high=fmt_number(est.high, lang, d),
                value=fmt_number(est.value, lang, d),
            )
        ]
    pct = signed_percent(est.value, lang) if est.ratio else ""
    sentence = label(f"{name}_{'up' if est.up else 'down'}", lang, numbers=est.numbers(measure, cfg, digits), pct=pct)
    return [sentence, est.certainty(cfg)]


def evidence_short(name: str, est: Estimate, measure: str, cfg: SiteConfig, digits: int = 2) -> str:
    """One summary line's claim by the same rules as :func:`evidence` (without the outcome's name)."""
    kind, lang = est.kind, cfg.lang
    if kind == "unbounded":
        return label("too_little_data_short", lang)
    if kind == "unclear":
        d = est.digits(digits)
        return label(
            "unclear_short",
            lang,
            measure=label(measure, lang),
            low=fmt_number(est.low, lang, d),
            high=fmt_number(est.high, lang, d),
        )
    first = evidence(name, est, measure, cfg, digits)[0].rstrip(".")
    return f"{first} \u2014 {est.certainty(cfg, short=True)}"
