"""Generate the Word template of report drafts, `templates/reports/bilan.docx`, with python-docx.

    python -m automations.report_template templates/reports/bilan.docx

The file is a docxtpl template: Jinja2 tags in the text, `{%p ... %}` for paragraph-level blocks and
`{%tr ... %}` for table rows. Each tag is written in a single run, so Word never splits it. Staff can
edit the generated file in Word or LibreOffice afterwards (keep each tag in one piece when editing).
The context it renders with is described in `automations/drafts.py` (`draft_context`).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

TABLE_TEXT = "Texte de tableau"
TO_COMPLETE_SECTIONS = (
    ("Faits marquants", "les moments forts de la période : ouvertures, fêtes, nouveaux publics, partenariats locaux."),
    ("Témoignages", "deux ou trois paroles de convives, de bénévoles ou de l'équipe (avec leur accord)."),
    ("Difficultés rencontrées", "ce qui a freiné le projet et ce qui a été fait pour y répondre."),
    ("Perspectives", "les prochaines étapes et ce que le soutien du partenaire permettra encore."),
)
MONTH_COLUMNS = (
    ("Mois", "{{ m.month|mois }}"),
    ("Repas servis", "{{ m|valeur('meals') }}"),
    ("Convives", "{{ m|valeur('guests') }}"),
    ("Bénévoles actifs", "{{ m|valeur('volunteers') }}"),
    ("Heures de bénévolat", "{{ m|valeur('volunteer_hours') }}"),
    ("Animations", "{{ m|valeur('events') }}"),
    ("Produits locaux", "{{ m|valeur('local_share') }}"),
)


def build_template() -> DocumentObject:
    """The bilan template as a python-docx Document."""
    doc = Document()
    setup(doc)
    doc.add_paragraph("{{ draft.title }}", style="Title")
    intro = doc.add_paragraph(style="Subtitle")
    intro.add_run("{{ network_name }} – brouillon préparé le {{ draft.prepared_on|date_longue }}")
    note = doc.add_paragraph()
    to_complete(note, "Brouillon à relire : ")
    note.add_run(
        "les chiffres viennent des tables (Indicateurs, Échéances, Déclinaisons) ; les passages surlignés "
        "« À compléter » sont à rédiger avant l'envoi au partenaire."
    )
    tag(doc, "{%p for note in draft.notes %}")
    warning = doc.add_paragraph()
    warning.add_run("Attention : ").bold = True
    warning.add_run("{{ note }}")
    tag(doc, "{%p endfor %}")

    doc.add_heading("Association", level=1)
    identity = (
        ("Association", "{{ draft.identity.name|a_completer }}"),
        ("SIRET", "{{ draft.identity.siret|a_completer }}"),
        ("Adresse", "{{ draft.identity.address|a_completer }}"),
        ("Signataire", "{{ draft.identity.signatory|a_completer }}"),
    )
    table = new_table(doc, len(identity), 2, widths=(Mm(50), Mm(120)))
    for (label, value), row in zip(identity, table.rows):
        fill(row.cells[0], label, bold=True)
        fill(row.cells[1], value)

    doc.add_heading("Partenaire et convention", level=1)
    rows = (
        ("Partenaire", "{{ draft.partner_name }}"),
        ("Convention", "{{ draft.agreement.reference }}"),
        ("Type", "{{ draft.agreement.type|ou_vide }}"),
        ("Montant total", "{{ draft.agreement.total_amount|euros|ou_vide }}"),
        ("Date de signature", "{{ draft.agreement.signed_on|date_courte|ou_vide }}"),
        ("Durée de la convention",
         "du {{ draft.agreement.starts_on|date_courte|ou_vide }} au {{ draft.agreement.ends_on|date_courte|ou_vide }}"),
        ("Cantines", "{{ draft.cantines|map(attribute='name')|join(', ')|ou_vide }}"),
        ("Échéance", "{{ draft.item.title }}, due le {{ draft.item.due_on|date_longue }}"),
    )
    table = new_table(doc, len(rows), 2, widths=(Mm(50), Mm(120)))
    for (label, value), row in zip(rows, table.rows):
        fill(row.cells[0], label, bold=True)
        fill(row.cells[1], value)

    doc.add_heading("Période couverte", level=1)
    doc.add_paragraph(
        "Du {{ draft.period.start|date_longue }} au {{ draft.period.end|date_longue }} "
        "({{ draft.period.months|length }} mois, {{ draft.period.months|first|mois_long|de }} "
        "à {{ draft.period.months|last|mois_long }})."
    )
    tag(doc, "{%p if draft.period.basis == 'previous' %}")
    doc.add_paragraph(
        "La période commence le lendemain de l'échéance précédente : {{ draft.period.previous_title }} "
        "du {{ draft.period.previous_due_on|date_courte }}."
    )
    tag(doc, "{%p elif draft.period.basis == 'whole' %}")
    doc.add_paragraph("Un bilan final couvre toute la convention : de sa date de début à sa date de fin.")
    tag(doc, "{%p elif draft.period.basis == 'convention' %}")
    doc.add_paragraph("La période commence à la date de début de la convention.")
    tag(doc, "{%p else %}")
    doc.add_paragraph(
        "La convention n'a pas de date de début : la période couvre les 12 mois qui précèdent l'échéance."
    )
    tag(doc, "{%p endif %}")

    doc.add_heading("Indicateurs", level=1)
    doc.add_paragraph(
        "Totaux : sommes sur les mois renseignés (moyennes mensuelles pour les bénévoles actifs et la part de "
        "produits locaux). Un mois sans indicateurs est signalé « manquant » et n'est jamais compté comme zéro ; "
        "un mois pas encore terminé est « à venir » et n'est pas compté. L'évolution n'est donnée que si les deux "
        "périodes ont des mois renseignés en nombre comparable ; celle de la part de produits locaux est en points."
    )
    tag(doc, "{%p for c in draft.cantines %}")
    doc.add_heading("{{ c.name }}", level=2)
    chart = doc.add_paragraph()
    chart.alignment = WD_ALIGN_PARAGRAPH.CENTER
    chart.add_run("{{ charts[c.name] }}")
    tag(doc, "{%p if c.missing %}")
    missing = doc.add_paragraph()
    to_complete(missing, "Mois manquants : ")
    missing.add_run("{{ c.missing|map('mois_long')|join(', ') }} (aucun indicateur saisi ; à demander à la cantine).")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if c.upcoming %}")
    doc.add_paragraph("Mois à venir (pas encore terminés) : {{ c.upcoming|map('mois_long')|join(', ') }}.")
    tag(doc, "{%p endif %}")
    doc.add_heading("Mois par mois", level=3)
    loop_table(doc, [h for h, _ in MONTH_COLUMNS], [v for _, v in MONTH_COLUMNS], "m in c.months")
    doc.add_heading("Totaux et comparaison avec la période précédente", level=3)
    doc.add_paragraph(
        "Période précédente de même durée : {{ c.previous.months|first|attr('month')|mois_long|de }} "
        "à {{ c.previous.months|last|attr('month')|mois_long }}."
    )
    tag(doc, "{%p if not c.previous.has_figures %}")
    doc.add_paragraph("Aucun indicateur sur la période précédente : pas de comparaison possible.")
    tag(doc, "{%p elif c.previous.incomplete %}")
    doc.add_paragraph(
        "Période précédente incomplète ({{ c.previous.missing|map('mois_long')|join(', ')|ou_vide('mois à venir') }} "
        "sans indicateurs) : l'évolution est calculée sur la moyenne mensuelle des mois renseignés."
    )
    tag(doc, "{%p endif %}")
    loop_table(
        doc,
        ["Indicateur", "Sur la période", "Mois renseignés", "Période précédente", "Évolution"],
        ["{{ i.label }}", "{{ i|total }}", "{{ i.months }} sur {{ c.finished }}", "{{ i|total_precedent }}",
         "{{ i|evolution }}"],
        "i in c.indicators",
    )
    tag(doc, "{%p endfor %}")

    doc.add_heading("Engagements", level=1)
    tag(doc, "{%p if draft.commitments %}")
    loop_table(
        doc, ["Engagement", "Où en est-on ?", "D'après les échéances"],
        ["{{ e.text }}", "{{ e.label }}", "{{ e.detail }}"], "e in draft.commitments",
    )
    tag(doc, "{%p else %}")
    doc.add_paragraph("Aucun engagement n'est noté dans la convention (colonne Engagements).")
    tag(doc, "{%p endif %}")
    line = doc.add_paragraph()
    to_complete(line, "À compléter : ")
    line.add_run("précisez comment chaque engagement marqué « À compléter » a été tenu.")

    doc.add_heading("Versements", level=1)
    tag(doc, "{%p if draft.payments.lines %}")
    loop_table(
        doc, ["Versement", "Date", "Montant", "Statut"],
        ["{{ p.title }}", "{{ (p.done_on or p.due_on)|date_courte }}", "{{ p.amount|euros|ou_vide }}",
         "{{ p.status }}"],
        "p in draft.payments.lines",
    )
    tag(doc, "{%p else %}")
    doc.add_paragraph("Aucun versement n'est noté dans les échéances de la convention.")
    tag(doc, "{%p endif %}")
    doc.add_paragraph(
        "Reçu : {{ draft.payments.received|euros }} sur {{ draft.payments.total|euros|ou_vide }} "
        "(montant total de la convention) ; reste à percevoir : {{ draft.payments.remaining|euros|ou_vide }}."
    )

    doc.add_heading("Dons et mécénat en nature valorisés", level=1)
    tag(doc, "{%p if draft.rollouts.lines %}")
    loop_table(
        doc, ["Offre", "Cantine", "Date", "Valeur valorisée"],
        ["{{ r.offer }}", "{{ r.cantine }}", "{{ r.on|date_courte }}", "{{ r.value|euros|ou_vide }}"],
        "r in draft.rollouts.lines",
    )
    doc.add_paragraph("Total valorisé sur la période : {{ draft.rollouts.total|euros }}.")
    tag(doc, "{%p else %}")
    doc.add_paragraph("Aucune déclinaison des offres de ce partenaire n'a été réalisée sur la période.")
    tag(doc, "{%p endif %}")

    doc.add_heading("À compléter", level=1)
    doc.add_paragraph("Ces parties ne peuvent être écrites que par l'équipe : remplacez chaque passage surligné.")
    for title, prompt in TO_COMPLETE_SECTIONS:
        doc.add_heading(title, level=2)
        paragraph = doc.add_paragraph()
        to_complete(paragraph, f"À compléter : {prompt}")
    return doc


def setup(doc: DocumentObject) -> None:
    """A4 pages, French as the proofing language, a small style for table text, fixed properties."""
    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.left_margin = section.right_margin = Mm(20)
        section.top_margin = section.bottom_margin = Mm(20)
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    lang = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}/{qn('w:lang')}") if defaults is not None else None
    if lang is not None:
        lang.set(qn("w:val"), "fr-FR")
    style = doc.styles.add_style(TABLE_TEXT, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = doc.styles["Normal"]
    style.font.size = Pt(9)
    style.paragraph_format.space_after = Pt(0)
    properties = doc.core_properties
    properties.title = "Bilan (modèle)"
    properties.author = "cantines-worker"
    properties.last_modified_by = "cantines-worker"
    properties.comments = "Modèle de brouillon de bilan (docxtpl) : voir automations/report_template.py"
    properties.language = "fr-FR"
    properties.revision = 1
    properties.created = properties.modified = dt.datetime(2026, 1, 1)


def tag(doc: DocumentObject, text: str) -> None:
    """A paragraph holding one block tag, in one run (docxtpl removes the paragraph)."""
    doc.add_paragraph().add_run(text)


def to_complete(paragraph: Paragraph, text: str) -> None:
    """A run highlighted in yellow: a passage a person has to write."""
    run = paragraph.add_run(text)
    run.bold = True
    run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    run.font.color.rgb = RGBColor(0x7A, 0x4B, 0x00)


def new_table(doc: DocumentObject, rows: int, cols: int, widths: Sequence[Mm] | None = None) -> Table:
    """A centred grid table, with column widths when given."""
    table = doc.add_table(rows=rows, cols=cols)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    if widths:
        for row in table.rows:
            for cell, width in zip(row.cells, widths):
                cell.width = width
    return table


def fill(cell: _Cell, text: str, *, bold: bool = False) -> None:
    """Write `text` in one run of the cell's first paragraph, in the table text style."""
    paragraph = cell.paragraphs[0]
    paragraph.style = TABLE_TEXT
    run = paragraph.add_run(text)
    run.bold = bold


def loop_table(doc: DocumentObject, headers: Sequence[str], cells: Sequence[str], loop: str) -> Table:
    """A table with a header row and one row repeated `for <loop>` (docxtpl `{%tr %}` rows)."""
    table = new_table(doc, 4, len(headers))
    for cell, header in zip(table.rows[0].cells, headers):
        fill(cell, header, bold=True)
    fill(table.rows[1].cells[0], f"{{%tr for {loop} %}}")
    for cell, text in zip(table.rows[2].cells, cells):
        fill(cell, text)
    fill(table.rows[3].cells[0], "{%tr endfor %}")
    return table


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m automations.report_template templates/reports/bilan.docx", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    build_template().save(str(path))
    print(f"modèle écrit : {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
