"""A synthetic dataset written the way Finnish client and payroll systems export it (private).

For practising the path from raw exports to a validated dataset
(``evalkit synth --format export``, then ``evalkit inspect``): the case
register's tables as Windows-1252, semicolon-separated CSV with CRLF line
ends, decimal commas, dd.mm.yyyy dates, Finnish headers and values, and a
blank line; the payroll tables and the evaluator's own tables as workbooks
with one sheet per table, cells as text in the same Finnish forms. No
``dataset.yaml`` is written: drafting it is the exercise.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalkit.data.schemas import DATE_COLUMNS, number_columns

__all__ = ["write_client_export", "EXPORT_FILES"]

#: where each table goes: (file, sheet or None for a CSV)
EXPORT_FILES: dict[str, tuple[str, str | None]] = {
    "cases": ("asiakkuudet.csv", None),
    "placements": ("sijoitukset.csv", None),
    "contacts": ("tapaamiset.csv", None),
    "services": ("ostopalvelut.csv", None),
    "staff": ("henkilosto.xlsx", "Henkilöstö"),
    "absences": ("henkilosto.xlsx", "Poissaolot"),
    "time_use": ("henkilosto.xlsx", "Ajankäyttö"),
    "sites": ("perustiedot.xlsx", "Kohteet"),
    "teams": ("perustiedot.xlsx", "Tiimit"),
    "surveys": ("perustiedot.xlsx", "Kyselyt"),
}
#: Finnish headers as client and payroll systems name the columns
HEADERS: dict[str, dict[str, str]] = {
    "sites": {"site_id": "Kohde", "municipality": "Kunta", "region": "Hyvinvointialue", "population": "Asukasluku"},
    "teams": {"team_id": "Tiimi", "site_id": "Kohde", "arm": "Ryhmä", "model_start": "Mallin aloitus"},
    "cases": {
        "case_id": "Asiakkuus",
        "child_id": "Lapsi",
        "team_id": "Tiimi",
        "opened": "Alkupvm",
        "closed": "Loppupvm",
        "end_reason": "Päättymisen syy",
        "legal_basis": "Peruste",
        "age_at_opening": "Ikä",
        "sex": "Sukupuoli",
    },
    "placements": {"case_id": "Asiakkuus", "date": "Sijoituspvm", "kind": "Sijoitusmuoto"},
    "contacts": {"case_id": "Asiakkuus", "date": "Tapaamispvm", "kind": "Tapaamisen laji", "minutes": "Kesto min"},
    "services": {
        "site_id": "Kohde",
        "team_id": "Tiimi",
        "month": "Kuukausi",
        "service": "Palvelulaji",
        "cost_eur": "Kustannus eur",
        "units": "Määrä",
    },
    "staff": {
        "worker_id": "Työntekijä",
        "team_id": "Tiimi",
        "role": "Nimike",
        "fte": "Työaika",
        "start": "Alku",
        "end": "Loppu",
    },
    "absences": {"worker_id": "Työntekijä", "start": "Alku", "end": "Loppu", "kind": "Poissaolon laji"},
    "surveys": {
        "respondent_id": "Vastaaja",
        "team_id": "Tiimi",
        "respondent": "Vastaajaryhmä",
        "wave": "Kierros",
        "answered": "Vastauspvm",
        "scale": "Mittari",
        "score": "Pisteet",
    },
    "time_use": {"worker_id": "Työntekijä", "wave": "Kierros", "activity": "Toiminto", "hours": "Tunnit"},
}
#: Finnish words for the contract's category values, by (table, column)
WORDS: dict[tuple[str, str], dict[str, str]] = {
    ("teams", "arm"): {"pilot": "pilotti", "comparison": "vertailu"},
    ("cases", "end_reason"): {
        "no_need": "ei tarvetta",
        "placement": "sijoitus",
        "moved": "muutto",
        "age_limit": "täysi-ikäisyys",
        "other": "muu",
    },
    ("cases", "sex"): {"F": "tyttö", "M": "poika", "unknown": "tuntematon"},
    ("placements", "kind"): {
        "urgent": "kiireellinen sijoitus",
        "care_order": "huostaanotto",
        "voluntary": "avohuollon sijoitus",
    },
    ("contacts", "kind"): {
        "face_to_face": "tapaaminen",
        "phone": "puhelu",
        "team_meeting": "tiimipalaveri",
        "network_meeting": "verkostopalaveri",
    },
    ("services", "service"): {
        "family_work": "perhetyö",
        "institutional_care": "laitoshoito",
        "foster_care": "perhehoito",
        "substance_abuse": "päihdehoito",
        "therapy": "terapia",
        "other": "muu",
    },
    ("staff", "role"): {
        "social_worker": "sosiaalityöntekijä",
        "consultant_social_worker": "konsultoiva sosiaalityöntekijä",
        "social_counsellor": "sosiaaliohjaaja",
        "family_therapist": "perheterapeutti",
        "coordinator": "koordinaattori",
        "family_worker": "perhetyöntekijä",
        "other": "muu",
    },
    ("absences", "kind"): {"sick_leave": "sairauspoissaolo", "other": "muu"},
    ("surveys", "respondent"): {"child": "lapsi", "parent": "vanhempi", "worker": "työntekijä"},
    ("time_use", "activity"): {
        "documentation": "kirjaaminen",
        "face_to_face": "tapaaminen",
        "meetings": "palaverit",
        "travel": "matkat",
        "other": "muu",
    },
}


def _finnish(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Every cell as the text a Finnish export shows: dd.mm.yyyy, decimal commas, Finnish words and headers."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        values = df[col]
        if col in DATE_COLUMNS[table]:
            text = values.dt.strftime("%d.%m.%Y").astype(object).where(values.notna(), "")
        elif col in number_columns(table):
            text = values.astype(object).map(lambda v: "" if pd.isna(v) else str(v).replace(".", ","))
        else:
            words = WORDS.get((table, col), {})
            text = values.astype(object).map(lambda v, w=words: "" if pd.isna(v) else w.get(v, v))
        out[HEADERS[table][col]] = text
    return out


def write_client_export(tables: dict[str, pd.DataFrame], folder: str | Path) -> Path:
    """Write ``tables`` into ``folder`` as client and payroll systems export them; returns the folder.

    Examples
    --------
    >>> import tempfile
    >>> from evalkit.synth import synthesise
    >>> d = write_client_export(synthesise(sites=1, seed=2).tables, tempfile.mkdtemp())
    >>> (d / "asiakkuudet.csv").read_bytes().decode("cp1252").splitlines()[0]
    'Asiakkuus;Lapsi;Tiimi;Alkupvm;Loppupvm;Päättymisen syy;Peruste;Ikä;Sukupuoli'
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    books: dict[str, dict[str, pd.DataFrame]] = {}
    for table, (file, sheet) in EXPORT_FILES.items():
        frame = _finnish(table, tables[table])
        if sheet is None:
            lines = frame.to_csv(sep=";", index=False, lineterminator="\r\n").split("\r\n")
            lines.insert(2, "")  # a blank line after the first row, as exports have: row numbers count it
            (folder / file).write_bytes("\r\n".join(lines).encode("cp1252"))
        else:
            books.setdefault(file, {})[sheet] = frame
    for file, sheets in books.items():
        with pd.ExcelWriter(folder / file) as book:
            for sheet, frame in sheets.items():
                frame.to_excel(book, sheet_name=sheet, index=False)
    return folder
