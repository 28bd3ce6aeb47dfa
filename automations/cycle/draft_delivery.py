"""Report drafts delivered: rendered into the drafts folder and emailed to the échéance's
Responsable with the .docx attached, once per set of figures (again, "mis à jour", when they change)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from connectors.mail import Attachment, OutgoingMessage

from automations.cycle.drafts import DraftFiles, mois, render_draft
from automations.cycle.messages import Network, template_problem
from automations.domain.model import DataProblem
from automations.cycle.render import Renderer, TemplateFailure
from automations.domain.reports import MISSING, Draft

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def draft_key(draft: Draft) -> str:
    """The idempotency key: the échéance and the figures the draft shows."""
    return f"draft:{draft.item.key}:{draft.figures_fingerprint}"


@dataclass(frozen=True)
class PreparedDraft:
    draft: Draft
    files: DraftFiles
    message: OutgoingMessage
    updated: bool


def missing_months(draft: Draft) -> list[str]:
    """ "Cantine des Canuts : juin 2026" for every month without figures."""
    return [
        f"{report.name} : {mois(line.month)}"
        for report in draft.cantines for line in report.months if line.status == MISSING
    ]


def prepare_drafts(
    drafts: Iterable[Draft],
    *,
    known: Callable[[list[str]], set[str]],
    sent_before: Callable[[str], bool],
    out_dir: Path,
    templates: Path,
    network: Network,
    renderer: Renderer,
) -> tuple[list[PreparedDraft], list[DataProblem]]:
    """Render the drafts whose figures were not sent yet, and their messages."""
    drafts = list(drafts)
    already = known([draft_key(d) for d in drafts])
    prepared: list[PreparedDraft] = []
    problems: list[DataProblem] = []
    for draft in drafts:
        key = draft_key(draft)
        if key in already:
            continue
        try:
            files = render_draft(draft, templates, out_dir, network_name=network.name)
        except Exception as exc:  # docxtpl, Jinja or matplotlib on a template staff edited
            problems.append(DataProblem("Modèles de bilans", "templates/reports/bilan.docx", "", draft.title,
                                        f"le brouillon n'a pas pu être préparé : {type(exc).__name__}: {exc}"))
            continue
        finally:
            # A draft's chart and document are reference cycles (matplotlib artists, docx parts); with a
            # large workbook loaded, full collections are rare and a catch-up of a hundred drafts would
            # hold them all. The young generations are enough, and cost milliseconds.
            gc.collect(1)
        updated = sent_before(f"draft:{draft.item.key}:")
        recipient = draft.item.owner_email
        if not recipient:
            problems.append(DataProblem(
                "Échéances", draft.item.title, "Responsable", "",
                "aucun responsable : le brouillon du bilan a été adressé à la coordination",
            ))
        context = {
            "network": network, "draft": draft, "updated": updated, "missing": missing_months(draft),
            "files": [files.docx.name, files.markdown.name],
        }
        try:
            rendered = renderer.email("brouillon", context)
        except TemplateFailure as exc:
            problems.append(template_problem("brouillon", exc))
            continue
        message = OutgoingMessage(
            key=key, kind="brouillon-bilan", sender=network.sender_address,
            to=(recipient or network.coordinator_email,), reply_to=network.reply_to,
            subject=rendered.subject, text=rendered.text, html=rendered.html,
            attachments=(Attachment(files.docx.name, files.docx.read_bytes(), DOCX),),
        )
        prepared.append(PreparedDraft(draft, files, message, updated))
    return prepared, problems
