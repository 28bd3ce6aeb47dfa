"""Generate the Word templates of report drafts, `templates/reports/bilan.docx` and (for a compte
rendu financier, CERFA 15059) `templates/reports/crf.docx`, with python-docx.

    python -m automations.report_template templates/reports/bilan.docx
    python -m automations.report_template templates/reports/crf.docx

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
    opening(doc, "{{ network_name }} – brouillon préparé le {{ draft.prepared_on|date_longue }}",
            "les chiffres viennent des tables (Indicateurs, Échéances, Déclinaisons) ; les passages surlignés "
            "« À compléter » sont à rédiger avant l'envoi au partenaire.")

    label_table(doc, "Association", (
        ("Association", "{{ draft.identity.name|a_completer }}"),
        ("SIRET", "{{ draft.identity.siret|a_completer }}"),
        ("Adresse", "{{ draft.identity.address|a_completer }}"),
        ("Signataire", "{{ draft.identity.signatory|a_completer }}"),
    ))

    label_table(doc, "Partenaire et convention", (
        ("Partenaire", "{{ draft.partner_name }}"),
        ("Convention", "{{ draft.agreement.reference }}"),
        ("Type", "{{ draft.agreement.type|ou_vide }}"),
        ("Montant total", "{{ draft.agreement.total_amount|euros|ou_vide }}"),
        ("Date de signature", "{{ draft.agreement.signed_on|date_courte|ou_vide }}"),
        ("Durée de la convention",
         "du {{ draft.agreement.starts_on|date_courte|ou_vide }} au {{ draft.agreement.ends_on|date_courte|ou_vide }}"),
        ("Cantines", "{{ draft.cantines|map(attribute='name')|join(', ')|ou_vide }}"),
        ("Échéance", "{{ draft.item.title }}, due le {{ draft.item.due_on|date_longue }}"),
    ))

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

    doc.add_heading("Budget de l'action", level=1)
    tag(doc, "{%p if draft.budget %}")
    table = new_table(doc, 3, 3, widths=(Mm(70), Mm(50), Mm(50)))
    for cell, header in zip(table.rows[0].cells, ("", "Prévision", "Réalisation")):
        fill(cell, header, bold=True)
    fill(table.rows[1].cells[0], "Total des charges", bold=True)
    fill(table.rows[1].cells[1], "{{ draft.budget.charge_total.planned|montant }}")
    fill(table.rows[1].cells[2], "{{ draft.budget.charge_total.actual|realise }}")
    fill(table.rows[2].cells[0], "Total des produits", bold=True)
    fill(table.rows[2].cells[1], "{{ draft.budget.produit_total.planned|montant }}")
    fill(table.rows[2].cells[2], "{{ draft.budget.produit_total.actual|realise }}")
    amounts_right(table)
    tag(doc, "{%p if draft.budget.granted is not none and draft.budget.share_planned is not none %}")
    doc.add_paragraph(
        "La subvention {{ draft.partner_name|de }} ({{ draft.budget.granted|montant }}) représente "
        "{{ draft.budget.share_planned|pourcent }} des produits prévus de l'action."
    )
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if draft.budget.flagged %}")
    doc.add_paragraph(
        "{{ draft.budget.flagged|length|pluriel('ligne') }} du budget "
        "{{ \"s'écartent\" if draft.budget.flagged|length > 1 else \"s'écarte\" }} de plus de "
        "{{ draft.budget.threshold|pourcent }} de la prévision : le compte rendu financier devra l'expliquer."
    )
    tag(doc, "{%p endif %}")
    doc.add_paragraph("Le détail, rubrique par rubrique, figure dans le compte rendu financier.")
    tag(doc, "{%p else %}")
    doc.add_paragraph("Aucune ligne de budget n'est enregistrée pour cette convention (table Budgets).")
    tag(doc, "{%p endif %}")

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


SYNTHESIS_HEADERS = ("Prévision", "Réalisation", "Écart", "Écart (%)")
SYNTHESIS_WIDTHS = (Mm(62), Mm(28), Mm(28), Mm(28), Mm(24))
HEADING_CELLS = ("{{ h.nature.choice }}", "{{ h.planned|montant }}", "{{ h.actual|realise }}", "{{ h.gap|ecart }}",
                 "{{ h.gap|ecart_pourcent }}")


def totals_row(table: Table, label: str, total: str) -> None:
    """A bold last row: a side's total under its headings."""
    row = table.add_row()
    for cell, column in zip(row.cells, table.columns):
        cell.width = column.width
    cells = row.cells
    values = (label, f"{{{{ {total}.planned|montant }}}}", f"{{{{ {total}.actual|realise }}}}",
              f"{{{{ {total}.gap|ecart }}}}", f"{{{{ {total}.gap|ecart_pourcent }}}}")
    for cell, value in zip(cells, values):
        fill(cell, value, bold=True)


def amounts_right(table: Table, first: int = 1, last: int | None = None) -> None:
    """Amount columns aligned right, like a financial table."""
    for row in table.rows:
        for cell in row.cells[first:last]:
            for paragraph in cell.paragraphs:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def build_crf_template() -> DocumentObject:
    """The compte rendu financier template (CERFA 15059) as a python-docx Document."""
    doc = Document()
    setup(doc)
    doc.core_properties.title = "Compte rendu financier (modèle)"
    opening(doc, "Compte rendu financier de l'action subventionnée (CERFA n° 15059) – {{ network_name }} – "
                 "brouillon préparé le {{ draft.prepared_on|date_longue }}",
            "les montants viennent des tables (Budgets, Conventions, Échéances) ; les passages surlignés "
            "« À compléter » sont à remplir avant l'envoi au financeur, avec les pièces comptables à l'appui.")

    label_table(doc, "Association", (
        ("Association", "{{ draft.identity.name|a_completer }}"),
        ("SIRET", "{{ draft.identity.siret|a_completer }}"),
        ("Adresse", "{{ draft.identity.address|a_completer }}"),
        ("Représentant légal", "{{ draft.identity.signatory|a_completer }}"),
    ))

    label_table(doc, "Subvention et action", (
        ("Financeur", "{{ draft.partner_name }}"),
        ("Convention", "{{ draft.agreement.reference }}{% if draft.agreement.type %} ({{ draft.agreement.type }}){% endif %}"),
        ("Montant attribué", "{{ draft.agreement.total_amount|montant|a_completer }}"),
        ("Date de signature", "{{ draft.agreement.signed_on|date_courte|a_completer }}"),
        ("Action menée",
         "du {{ draft.agreement.starts_on|date_courte|a_completer }} au {{ draft.agreement.ends_on|date_courte|a_completer }}"),
        ("Cantines", "{{ draft.cantines|map(attribute='name')|join(', ')|ou_vide }}"),
        ("Échéance", "{{ draft.item.title }}, à rendre le {{ draft.item.due_on|date_longue }}"),
    ))

    tag(doc, "{%p if draft.budget %}")
    doc.add_heading("Tableau de synthèse", level=1)
    doc.add_paragraph(
        "Prévision : le budget de la demande de subvention ; réalisation : d'après la comptabilité de l'action. "
        "Écart = réalisation − prévision ; en % de la prévision."
    )
    doc.add_heading("Charges directes", level=2)
    table = loop_table(doc, ["Charges", *SYNTHESIS_HEADERS], HEADING_CELLS, "h in draft.budget.charges",
                       SYNTHESIS_WIDTHS)
    totals_row(table, "Total des charges", "draft.budget.charge_total")
    amounts_right(table)
    doc.add_heading("Produits directs", level=2)
    table = loop_table(doc, ["Produits", *SYNTHESIS_HEADERS], HEADING_CELLS, "h in draft.budget.produits",
                       SYNTHESIS_WIDTHS)
    totals_row(table, "Total des produits", "draft.budget.produit_total")
    amounts_right(table)

    doc.add_heading("Équilibre", level=2)
    tag(doc, "{%p if draft.budget.planned_balanced %}")
    doc.add_paragraph("Budget prévisionnel équilibré : {{ draft.budget.charge_total.planned|montant }} de charges "
                      "et de produits.", style="List Bullet")
    tag(doc, "{%p else %}")
    line = doc.add_paragraph(style="List Bullet")
    to_complete(line, "À compléter – budget prévisionnel non équilibré : ")
    line.add_run("{{ draft.budget.charge_total.planned|montant }} de charges pour "
                 "{{ draft.budget.produit_total.planned|montant }} de produits (écart de "
                 "{{ draft.budget.planned_balance|abs|montant }}). Vérifiez les lignes prévues : le budget présenté "
                 "au financeur était équilibré.")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if draft.budget.actual_result is none %}")
    line = doc.add_paragraph(style="List Bullet")
    to_complete(line, "À compléter – réalisation incomplète : ")
    line.add_run("{{ (draft.budget.charge_total.missing + draft.budget.produit_total.missing)|pluriel('ligne') }} "
                 "sans montant réalisé ; le résultat de l'action sera calculé une fois toutes les lignes renseignées.")
    tag(doc, "{%p elif draft.budget.actual_result == 0 %}")
    doc.add_paragraph("Réalisation équilibrée : {{ draft.budget.charge_total.actual|montant }} de charges et de "
                      "produits.", style="List Bullet")
    tag(doc, "{%p else %}")
    line = doc.add_paragraph(style="List Bullet")
    to_complete(line, "À compléter – réalisation non équilibrée : ")
    line.add_run("{{ draft.budget.charge_total.actual|montant }} de charges pour "
                 "{{ draft.budget.produit_total.actual|montant }} de produits, soit un "
                 "{{ 'excédent' if draft.budget.actual_result > 0 else 'déficit' }} de "
                 "{{ draft.budget.actual_result|abs|montant }} : expliquez-le (et, pour un excédent, ce qu'il "
                 "devient : reversement, report sur l'action suivante avec l'accord du financeur).")
    tag(doc, "{%p endif %}")

    doc.add_heading("Contributions volontaires en nature", level=2)
    tag(doc, "{%p if draft.budget.has_in_kind %}")
    doc.add_paragraph("Bénévolat, mises à disposition gratuites de biens ou de locaux, dons en nature : valorisés à "
                      "part, sous les totaux, comme le prévoit le CERFA.")
    table = loop_table(doc, ["Contributions en nature", *SYNTHESIS_HEADERS], HEADING_CELLS,
                       "h in draft.budget.in_kind_charges + draft.budget.in_kind_produits", SYNTHESIS_WIDTHS)
    amounts_right(table)
    doc.add_paragraph(
        "Total des charges, contributions en nature comprises : "
        "{{ (draft.budget.charge_total.planned + draft.budget.in_kind_charge_total.planned)|montant }} prévus"
        "{% if draft.budget.charge_total.actual is not none and draft.budget.in_kind_charge_total.actual is not none %}, "
        "{{ (draft.budget.charge_total.actual + draft.budget.in_kind_charge_total.actual)|montant }} réalisés{% endif %}."
    )
    tag(doc, "{%p if not draft.budget.in_kind_balanced %}")
    line = doc.add_paragraph()
    to_complete(line, "À compléter : ")
    line.add_run("les emplois (86) et les ressources (87) de contributions en nature devraient avoir la même valeur "
                 "({{ draft.budget.in_kind_charge_total.planned|montant }} contre "
                 "{{ draft.budget.in_kind_produit_total.planned|montant }} prévus).")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p else %}")
    line = doc.add_paragraph("Aucune contribution volontaire en nature n'est inscrite au budget (rubriques 86 et 87). ")
    to_complete(line, "À compléter")
    line.add_run(" si l'action en a reçu : heures de bénévolat valorisées, locaux ou matériel prêtés, dons de produits.")
    tag(doc, "{%p endif %}")

    doc.add_heading("Part de la subvention dans l'action", level=1)
    tag(doc, "{%p if draft.budget.granted is not none and draft.budget.share_planned is not none %}")
    doc.add_paragraph(
        "La subvention {{ draft.partner_name|de }} ({{ draft.budget.granted|montant }}) représente "
        "{{ draft.budget.share_planned|pourcent }} du total des produits prévus"
        "{% if draft.budget.share_actual is not none %} et {{ draft.budget.share_actual|pourcent }} du total des "
        "produits réalisés{% endif %}."
    )
    tag(doc, "{%p else %}")
    line = doc.add_paragraph()
    to_complete(line, "À compléter : ")
    line.add_run("le montant de la subvention ou le total des produits manque pour calculer sa part.")
    tag(doc, "{%p endif %}")

    doc.add_heading("Écarts significatifs à expliquer", level=1)
    tag(doc, "{%p if draft.budget.flagged %}")
    doc.add_paragraph("Les lignes dont la réalisation s'écarte de plus de {{ draft.budget.threshold|pourcent }} de la "
                      "prévision, ou qui n'étaient pas prévues : le financeur demande d'en expliquer la raison.")
    table = loop_table(
        doc, ["Ligne", "Compte", "Prévision", "Réalisation", "Écart", "Explication"],
        ["{{ r.title }}", "{{ r.nature.short }}", "{{ r.line.planned|montant|ou_vide('—') }}",
         "{{ r.line.actual|realise }}", "{{ r.gap|ecart }} ({{ r.gap|ecart_pourcent }})",
         "{{ r.line.comment or '' }}"],
        "r in draft.budget.flagged", (Mm(35), Mm(20), Mm(25), Mm(25), Mm(28), Mm(37)),
    )
    amounts_right(table, 2, 5)
    to_complete(table.rows[2].cells[5].paragraphs[0], "{% if not r.line.comment %}À compléter{% endif %}")
    tag(doc, "{%p elif draft.budget.actual_complete %}")
    doc.add_paragraph("Aucun écart de plus de {{ draft.budget.threshold|pourcent }} entre la prévision et la réalisation.")
    tag(doc, "{%p else %}")
    doc.add_paragraph("Aucun écart de plus de {{ draft.budget.threshold|pourcent }} sur les lignes déjà réalisées ; "
                      "les autres restent à compléter.")
    tag(doc, "{%p endif %}")

    doc.add_heading("Détail des lignes", level=1)
    table = loop_table(
        doc, ["Compte", "Libellé – financeur", "Prévision", "Réalisation", "Écart", "Commentaire"],
        ["{{ r.nature.short }}", "{{ r.title }}{% if r.line.funder %} – {{ r.line.funder }}{% endif %}",
         "{{ r.line.planned|montant|ou_vide('—') }}", "{{ r.line.actual|realise }}", "{{ r.gap|ecart }}",
         "{{ r.line.comment or '' }}"],
        # six columns, not seven: on A4 portrait a seventh cuts names and amounts mid-word
        "r in draft.budget.rows", (Mm(19), Mm(47), Mm(25), Mm(25), Mm(25), Mm(29)),
    )
    amounts_right(table, 2, 5)
    tag(doc, "{%p else %}")
    doc.add_heading("Tableau de synthèse", level=1)
    line = doc.add_paragraph()
    to_complete(line, "À compléter : ")
    line.add_run("aucune ligne de budget n'est enregistrée pour cette convention (table Budgets). Saisissez-y le budget "
                 "prévisionnel de la demande de subvention (charges 60 à 68, produits 70 à 78 dont la subvention en 74, "
                 "contributions en nature 86 et 87), puis les montants réalisés : ce brouillon sera refait avec le "
                 "tableau de synthèse.")
    tag(doc, "{%p endif %}")

    doc.add_heading("Versements reçus", level=1)
    tag(doc, "{%p if draft.payments.lines %}")
    table = loop_table(
        doc, ["Versement", "Date", "Montant", "Statut"],
        ["{{ p.title }}", "{{ (p.done_on or p.due_on)|date_courte }}", "{{ p.amount|montant|ou_vide }}",
         "{{ p.status }}"],
        "p in draft.payments.lines",
    )
    tag(doc, "{%p else %}")
    doc.add_paragraph("Aucun versement n'est noté dans les échéances de la convention.")
    tag(doc, "{%p endif %}")
    doc.add_paragraph(
        "Reçu : {{ draft.payments.received|montant }} sur {{ draft.payments.total|montant|ou_vide }} attribués ; "
        "reste à percevoir : {{ draft.payments.remaining|montant|ou_vide }}."
    )

    doc.add_heading("Annexe", level=1)
    for title, prompt in CRF_ANNEX:
        doc.add_heading(title, level=2)
        to_complete(doc.add_paragraph(), f"À compléter : {prompt}")

    doc.add_heading("Attestation", level=1)
    doc.add_paragraph(
        "Je soussigné(e), {{ draft.identity.signatory|a_completer }}, représentant(e) légal(e) de l'association "
        "{{ draft.identity.name|a_completer }}, certifie exactes les informations du présent compte rendu."
    )
    line = doc.add_paragraph("Fait à ")
    to_complete(line, "À compléter")
    line.add_run(", le ")
    to_complete(line, "À compléter")
    line.add_run(".")
    line = doc.add_paragraph("Signature : ")
    to_complete(line, "À compléter")
    return doc


CRF_ANNEX = (
    ("Règles de répartition des charges indirectes affectées à l'action",
     "comment les charges communes (loyer, assurance, coordination) ont été réparties sur l'action (au prorata "
     "des repas, du temps passé…)."),
    ("Observations",
     "tout ce qui éclaire l'exécution du budget (report d'une partie de la subvention, financements obtenus ou "
     "refusés en cours d'année)."),
)


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


def opening(doc: DocumentObject, subtitle: str, sources: str) -> None:
    """A draft's title, subtitle, « Brouillon à relire » note (`sources`: where its figures come from)
    and the draft's own warnings."""
    doc.add_paragraph("{{ draft.title }}", style="Title")
    doc.add_paragraph(style="Subtitle").add_run(subtitle)
    note = doc.add_paragraph()
    to_complete(note, "Brouillon à relire : ")
    note.add_run(sources)
    tag(doc, "{%p for note in draft.notes %}")
    warning = doc.add_paragraph()
    warning.add_run("Attention : ").bold = True
    warning.add_run("{{ note }}")
    tag(doc, "{%p endfor %}")


def label_table(doc: DocumentObject, heading: str, rows: Sequence[tuple[str, str]]) -> None:
    """A heading, then a two-column table of labels (bold) and their values."""
    doc.add_heading(heading, level=1)
    table = new_table(doc, len(rows), 2, widths=(Mm(50), Mm(120)))
    for (label, value), row in zip(rows, table.rows):
        fill(row.cells[0], label, bold=True)
        fill(row.cells[1], value)


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
        table.autofit = False
        for column, width in zip(table.columns, widths):
            column.width = width  # the grid, which LibreOffice follows
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


def loop_table(
    doc: DocumentObject, headers: Sequence[str], cells: Sequence[str], loop: str, widths: Sequence[Mm] | None = None,
) -> Table:
    """A table with a header row and one row repeated `for <loop>` (docxtpl `{%tr %}` rows)."""
    table = new_table(doc, 4, len(headers), widths)
    for cell, header in zip(table.rows[0].cells, headers):
        fill(cell, header, bold=True)
    fill(table.rows[1].cells[0], f"{{%tr for {loop} %}}")
    for cell, text in zip(table.rows[2].cells, cells):
        fill(cell, text)
    fill(table.rows[3].cells[0], "{%tr endfor %}")
    return table


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m automations.report_template templates/reports/bilan.docx (or crf.docx)", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    (build_crf_template() if path.stem == "crf" else build_template()).save(str(path))
    print(f"modèle écrit : {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
