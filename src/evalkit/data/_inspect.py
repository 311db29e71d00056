"""``evalkit inspect``: a draft ``dataset.yaml`` mapping for a folder of raw exports (private).

Reads every CSV and every workbook sheet, detects encoding, delimiter,
decimal commas and dd.mm.yyyy dates, proposes a table for each file or sheet
and a contract column for each header (Finnish, Swedish and English names),
and lists each category column's values beside the allowed ones. What it
cannot decide is written as ``TODO``, which ``evalkit validate`` refuses, so
a draft cannot pass unread.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.data.extract import TableMap, looks_like_cp1252, read_mapped
from evalkit.core.idcode import mask_codes
from evalkit.data.schemas import DATE_COLUMNS, MODELS, TABLES, columns, number_columns

__all__ = ["draft_manifest"]

_ID = {
    "case_id": [
        "asiakkuus",
        "asiakkuus id",
        "asiakkuustunnus",
        "asiakkuusnumero",
        "ärende",
        "ärende id",
        "ärendenummer",
        "klientrelation",
        "klientrelation id",
    ],
    "child_id": ["lapsi", "lapsen tunnus", "lapsen tunniste", "barn", "barn id", "barnets id", "child"],
    "team_id": ["tiimi", "tiimin tunnus", "team", "team id", "teamets id"],
    "site_id": ["kohde", "kunta id", "ort", "ort id", "site"],
    # never "henkilötunnus" or "personbeteckning": those are identity codes, which no table may hold
    "worker_id": ["työntekijä", "henkilö", "henkilönumero", "anställd", "anställningsnummer", "arbetstagare", "worker"],
}
#: header words by contract column (normalised: lower case, no punctuation), in Finnish, Swedish and English
SYNONYMS: dict[str, list[str]] = {
    **_ID,
    "municipality": ["kunta", "kommun"],
    "region": ["hyvinvointialue", "maakunta", "välfärdsområde", "landskap"],
    "population": ["asukasluku", "väkiluku", "invånare", "invånarantal", "folkmängd"],
    "arm": ["ryhmä", "pilotti vertailu", "grupp", "pilot jämförelse"],
    "model_start": [
        "mallin aloitus",
        "aloituspvm",
        "aloitus",
        "modellens start",
        "modellen inledd",
        "startdatum modell",
    ],
    "opened": [
        "alkupvm",
        "asiakkuuden alkupvm",
        "alkupäivä",
        "alkanut",
        "början",
        "inledd",
        "startdatum",
        "klientrelationens början",
        "inledningsdatum",
    ],
    "closed": [
        "loppupvm",
        "asiakkuuden loppupvm",
        "päättymispvm",
        "päättynyt",
        "slutdatum",
        "avslutad",
        "klientrelationens slut",
        "avslutningsdatum",
    ],
    "end_reason": [
        "päättymisen syy",
        "päättymissyy",
        "syy",
        "orsak",
        "avslutningsorsak",
        "orsak till avslut",
        "end reason",
    ],
    "legal_basis": ["peruste", "lakiperuste", "laki", "grund", "laglig grund", "rättslig grund", "legal basis"],
    "age_at_opening": ["ikä", "ikä alkaessa", "ålder", "ålder vid början", "age"],
    "sex": ["sukupuoli", "kön"],
    "date": ["pvm", "päivämäärä", "sijoituspvm", "tapaamispvm", "datum", "placeringsdatum", "mötesdatum"],
    "kind": [
        "laji",
        "sijoitusmuoto",
        "tapaamisen laji",
        "poissaolon laji",
        "typ",
        "slag",
        "placeringsform",
        "frånvarons typ",
    ],
    "minutes": ["minuutit", "kesto", "kesto min", "minuter", "längd", "längd min"],
    "month": ["kuukausi", "kk", "månad"],
    "service": ["palvelu", "palvelulaji", "tjänst", "tjänstetyp"],
    "cost_eur": ["kustannus", "kustannus eur", "euroa", "hinta", "kostnad", "kostnad eur", "euro", "pris", "cost"],
    "units": ["yksiköt", "määrä", "enheter", "antal", "mängd"],
    "role": ["nimike", "tehtävä", "ammattinimike", "befattning", "yrkesbeteckning", "tjänstebeteckning"],
    "fte": ["työaika", "htv", "henkilötyövuosi", "arbetstid", "årsverke", "årsverken"],
    "start": ["alku", "alkaa", "alkupvm", "början", "från"],
    "end": ["loppu", "loppuu", "loppupvm", "slut", "till"],
    "respondent_id": ["vastaaja", "vastaajan tunnus", "svarande", "respondent id"],
    "respondent": ["vastaajaryhmä", "vastaajatyyppi", "svarandegrupp", "respondentgrupp"],
    "wave": ["kierros", "aalto", "mittauskerta", "omgång"],
    "answered": ["vastattu", "vastauspvm", "vastauspäivä", "besvarad", "svarsdatum"],
    "scale": ["mittari", "asteikko", "kysymys", "skala", "fråga"],
    "score": ["pisteet", "arvo", "vastaus", "poäng"],
    "activity": ["toiminto", "toiminta", "työtehtävä", "aktivitet"],
    "hours": ["tunnit", "tuntia", "timmar"],
}
#: Finnish and Swedish words for the contract's category values
VALUES: dict[str, str] = {
    "ei tarvetta": "no_need",
    "tarve päättynyt": "no_need",
    "sijoitus": "placement",
    "muutto": "moved",
    "muuttanut": "moved",
    "täysi-ikäisyys": "age_limit",
    "ikäraja": "age_limit",
    "muu": "other",
    "tuntematon": "unknown",
    "pilotti": "pilot",
    "vertailu": "comparison",
    "kiireellinen sijoitus": "urgent",
    "huostaanotto": "care_order",
    "avohuollon sijoitus": "voluntary",
    "tyttö": "F",
    "nainen": "F",
    "poika": "M",
    "mies": "M",
    "sairauspoissaolo": "sick_leave",
    "sairausloma": "sick_leave",
    "perhetyö": "family_work",
    "laitoshoito": "institutional_care",
    "perhehoito": "foster_care",
    "päihdehoito": "substance_abuse",
    "terapia": "therapy",
    "tapaaminen": "face_to_face",
    "puhelu": "phone",
    "puhelin": "phone",
    "tiimipalaveri": "team_meeting",
    "verkostopalaveri": "network_meeting",
    "sosiaalityöntekijä": "social_worker",
    "konsultoiva sosiaalityöntekijä": "consultant_social_worker",
    "sosiaaliohjaaja": "social_counsellor",
    "perheterapeutti": "family_therapist",
    "koordinaattori": "coordinator",
    "perhetyöntekijä": "family_worker",
    "lapsi": "child",
    "vanhempi": "parent",
    "huoltaja": "parent",
    "työntekijä": "worker",
    "kirjaaminen": "documentation",
    "dokumentointi": "documentation",
    "palaverit": "meetings",
    "kokoukset": "meetings",
    "matkat": "travel",
    "matka-aika": "travel",
    # Swedish (exports of the bilingual municipalities)
    "inget behov": "no_need",
    "behovet upphört": "no_need",
    "placering": "placement",
    "flyttat": "moved",
    "flytt": "moved",
    "myndig": "age_limit",
    "åldersgräns": "age_limit",
    "annat": "other",
    "annan": "other",
    "övrigt": "other",
    "okänd": "unknown",
    "jämförelse": "comparison",
    "brådskande placering": "urgent",
    "omhändertagande": "care_order",
    "placering inom öppenvården": "voluntary",
    "öppenvårdsplacering": "voluntary",
    "flicka": "F",
    "kvinna": "F",
    "pojke": "M",
    "man": "M",
    "sjukfrånvaro": "sick_leave",
    "sjukledighet": "sick_leave",
    "familjearbete": "family_work",
    "institutionsvård": "institutional_care",
    "anstaltsvård": "institutional_care",
    "familjevård": "foster_care",
    "missbruksvård": "substance_abuse",
    "terapi": "therapy",
    "möte": "face_to_face",
    "träff": "face_to_face",
    "telefon": "phone",
    "samtal": "phone",
    "teammöte": "team_meeting",
    "nätverksmöte": "network_meeting",
    "socialarbetare": "social_worker",
    "konsultativ socialarbetare": "consultant_social_worker",
    "socialhandledare": "social_counsellor",
    "familjeterapeut": "family_therapist",
    "koordinator": "coordinator",
    "familjearbetare": "family_worker",
    "barn": "child",
    "förälder": "parent",
    "vårdnadshavare": "parent",
    "anställd": "worker",
    "dokumentation": "documentation",
    "möten": "meetings",
    "resor": "travel",
}
_DECIMAL = re.compile(r"\s*-?[\d \u00a0]*\d,\d+\s*")
_DOTTED = re.compile(r"\s*\d{1,2}\.\d{1,2}\.\d{4}\s*")


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-zåäö]+", " ", str(text).lower()).strip()


def _allowed(table: str, column: str) -> list[str]:
    for check in MODELS[table].to_schema().columns[column].checks:
        allowed = check.statistics.get("allowed_values") if check.statistics else None
        if allowed:
            return [str(v) for v in allowed]
    return []


def _contract_column(header: str, table: str) -> str | None:
    words, known = _norm(header), columns(table)
    for col in known:
        if words in (col.replace("_", " "), col) or words in [_norm(s) for s in SYNONYMS.get(col, [])]:
            return col
    return None


def _sources(folder: Path) -> list[TableMap]:
    """One read-as-found TableMap per CSV file and workbook sheet, with the detected encoding and delimiter."""
    found = []
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if path.name.startswith((".", "~$")) or not path.is_file():
            continue
        if suffix == ".csv":
            data = path.read_bytes()
            encoding = "cp1252" if looks_like_cp1252(data) else "utf-8"
            first = data.decode(encoding, errors="replace").lstrip("\ufeff").split("\n", 1)[0]
            found.append(TableMap(file=path.name, encoding=encoding, delimiter=max((";", ",", "\t"), key=first.count)))
        elif suffix in (".xlsx", ".xlsm"):
            found += [TableMap(file=path.name, sheet=str(s)) for s in pd.ExcelFile(path).sheet_names]
    return found


#: words in a file or sheet name that name a table
TABLE_WORDS = {
    "sites": ["kohteet", "kunnat", "orter", "kommuner"],
    "teams": ["tiimit", "team"],
    "cases": ["asiakkuudet", "asiakkaat", "ärenden", "klientrelationer"],
    "placements": ["sijoitukset", "placeringar"],
    "contacts": ["tapaamiset", "kontaktit", "kontakter", "möten"],
    "services": ["ostopalvelut", "palvelut", "köpta tjänster", "tjänster"],
    "staff": ["henkilöstö", "työntekijät", "personal", "anställda"],
    "absences": ["poissaolot", "frånvaro"],
    "surveys": ["kyselyt", "enkät", "enkäter"],
    "time_use": ["ajankäyttö", "tidsanvändning"],
}


def _propose(frame: pd.DataFrame, name: str) -> tuple[str | None, dict[str, str | None]]:
    """The table the headers match best (then: the share of its columns found, the file or sheet name)."""
    scored = []
    for table in TABLES:
        match = {h: _contract_column(h, table) for h in frame.columns}
        found = len({v for v in match.values() if v})
        named = any(w in _norm(name) for w in [table.replace("_", " "), *TABLE_WORDS[table]])
        scored.append(((found, found / len(columns(table)), named), table, match))
    scored.sort(key=lambda s: s[0], reverse=True)
    best = scored[0]
    if best[0][0] == 0 or (len(scored) > 1 and scored[1][0] == best[0]):
        return None, best[2]
    return best[1], best[2]


def _formats(frame: pd.DataFrame, table: str, match: dict[str, str | None]) -> dict[str, str]:
    out = {}
    by_col = {c: h for h, c in match.items() if c}
    sample = frame.head(500)
    if any(
        sample[by_col[c]].dropna().astype(str).map(lambda v: bool(_DECIMAL.fullmatch(v))).any()
        for c in number_columns(table)
        if c in by_col
    ):
        out["decimal"] = ","
    if any(
        sample[by_col[c]].dropna().astype(str).map(lambda v: bool(_DOTTED.fullmatch(v))).mean() > 0.5
        for c in DATE_COLUMNS[table]
        if c in by_col
    ):
        out["date_format"] = "%d.%m.%Y"
    return out


def _q(text: Any) -> str:
    return json.dumps(mask_codes(str(text)), ensure_ascii=False)


def _entry(folder: Path, source: TableMap) -> tuple[str | None, list[str]]:
    where = f"{source.file}" + (f", sheet {source.sheet}" if source.sheet else "")
    try:
        frame = read_mapped(folder, "sites", source)  # read as found: no renaming, no conversions
    except ValueError as exc:
        return None, [f"  # TODO: {_q(where)} could not be read: {mask_codes(str(exc))}"]
    table, match = _propose(frame, source.sheet or Path(source.file).stem)
    if table is None:
        return None, [
            f"  # TODO: {where}: no table recognised from its headers "
            f"({', '.join(_q(h) for h in frame.columns[:6])}); add it by hand or leave it out"
        ]
    lines = [f"  {table}:", f"    file: {_q(source.file)}"]
    if source.sheet is not None:
        lines.append(f"    sheet: {_q(source.sheet)}")
    if source.encoding != "utf-8":
        lines.append(f"    encoding: {source.encoding}")
    if source.delimiter and source.sheet is None:
        lines.append(f"    delimiter: {_q(source.delimiter)}")
    lines += [f"    {k}: {_q(v)}" for k, v in _formats(frame, table, match).items()]
    lines.append("    columns:")
    for header, col in match.items():
        lines.append(
            f"      {_q(header)}: {col}"
            if col
            else f"      # {_q(header)}: not a contract column (extra columns are ignored)"
        )
    missing = [c for c in columns(table) if c not in match.values()]
    lines += [f'      # TODO: which header is {c}? ("header": {c})' for c in missing]
    values = _value_lines(frame, table, match)
    return table, lines + (["    values:", *values] if values else [])


def _value_lines(frame: pd.DataFrame, table: str, match: dict[str, str | None]) -> list[str]:
    lines = []
    for header, col in match.items():
        allowed = _allowed(table, col) if col else []
        if not allowed:
            continue
        seen = [str(v).strip() for v in frame[header].dropna().unique()[:50]]
        odd = [v for v in seen if v not in allowed]
        if not odd:
            continue
        lines.append(f"      {col}:  # allowed: {', '.join(allowed)}")
        for v in odd:
            target = VALUES.get(v.lower()) or next((a for a in allowed if a.lower() == v.lower()), None)
            lines.append(f"        {_q(v)}: {target if target in allowed else 'TODO'}")
    return lines


def draft_manifest(folder: str | Path) -> str:
    """The text of a draft ``dataset.yaml`` for the raw exports in ``folder`` (``TODO`` where undecided).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "tiimit.csv").write_text("Tiimi;Kohde;Ryhmä;Mallin aloitus\\nT1;S1;pilotti;1.1.2018\\n")
    >>> print(draft_manifest(d).split("tables:")[1].strip().splitlines()[0])
    teams:
    """
    folder = Path(folder)
    head = [
        "# Draft by `evalkit inspect`: check every line, replace every TODO, then run `evalkit validate`.",
        "name: TODO  # the dataset's name, shown in every report (never a person's code)",
        "extracted_on: TODO  # the day of the extraction, YYYY-MM-DD",
        "tables:",
    ]
    body, taken = [], set()
    for source in _sources(folder):
        table, lines = _entry(folder, source)
        if table in taken:
            lines = [f"  # TODO: {source.file} also looks like {table}: keep one", *("  # " + x for x in lines)]
        taken.add(table)
        body += lines
    return "\n".join(head + body) + "\n"
