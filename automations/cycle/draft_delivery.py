"""Report drafts delivered: rendered into the drafts folder and emailed to the échéance's
Responsable with its files attached (the Word document, the Markdown version and its charts), once
per set of figures (again, "mis à jour", when they change)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from connectors.mail import Attachment, OutgoingMessage, safe_key

from automations.cycle.drafts import DraftFiles, mois, render_draft, text_environment
from automations.cycle.messages import Network, template_problem
from automations.domain.model import DataProblem
from automations.cycle.render import Renderer, TemplateFailure
from automations.domain.reports import MISSING, Draft

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN = "text/markdown"
PNG = "image/png"


def draft_attachments(files: DraftFiles) -> tuple[Attachment, ...]:
    """Every file of the draft: the Word document, the Markdown version and the charts it shows."""
    return (
        Attachment(files.docx.name, files.docx.read_bytes(), DOCX),
        Attachment(files.markdown.name, files.markdown.read_bytes(), MARKDOWN),
        *(Attachment(chart.name, chart.read_bytes(), PNG) for chart in files.charts),
    )


DRAFT_ITEM_KEY_LENGTH = 300  # with "draft:" and the fingerprint, well within a message key's limit


def draft_prefix(draft: Draft) -> str:
    """What every key of one échéance's drafts starts with (the échéance's key, made safe)."""
    return f"draft:{safe_key(draft.item.key, DRAFT_ITEM_KEY_LENGTH)}:"


def draft_key(draft: Draft) -> str:
    """The idempotency key: the échéance and the figures the draft shows."""
    return f"{draft_prefix(draft)}{draft.figures_fingerprint}"


@dataclass(frozen=True)
class PreparedDraft:
    draft: Draft
    files: DraftFiles
    message: OutgoingMessage
    updated: bool


def missing_months(draft: Draft) -> list[str]:
    """ "Cantine des Canuts : juin 2026, juil. 2026" for every cantine with months without figures."""
    return [
        f"{report.name} : {', '.join(mois(line.month) for line in report.months if line.status == MISSING)}"
        for report in draft.cantines if report.missing
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
    markdown_env = text_environment(templates)  # one for the run's drafts: each template compiled once
    for draft in drafts:
        key = draft_key(draft)
        if key in already:
            continue
        try:
            files = render_draft(draft, templates, out_dir, network_name=network.name, markdown_env=markdown_env)
        except TemplateFailure as exc:  # a template staff edited: said in French, naming the file
            problems.append(DataProblem("Modèles de bilans", f"templates/{exc.template}", "", draft.title,
                                        f"{exc} : le brouillon n'a pas pu être préparé"))
            continue
        except Exception as exc:  # docxtpl or matplotlib failing on this draft's contents
            problems.append(DataProblem("Modèles de bilans", "templates/reports/bilan.docx", "", draft.title,
                                        f"le brouillon n'a pas pu être préparé : {type(exc).__name__}: {exc}"))
            continue
        finally:
            # A draft's chart and document are reference cycles (matplotlib artists, docx parts); with a
            # large workbook loaded, full collections are rare and a catch-up of a hundred drafts would
            # hold them all. The young generations are enough, and cost milliseconds.
            gc.collect(1)
        updated = sent_before(draft_prefix(draft))
        recipient = draft.item.owner_email
        if not recipient:
            problems.append(DataProblem(
                "Échéances", draft.item.title, "Responsable", "",
                "aucun responsable : le brouillon du bilan a été adressé à la coordination",
            ))
        context = {
            "network": network, "draft": draft, "updated": updated, "missing": missing_months(draft),
            "files": [files.docx.name, files.markdown.name],
            "charts": [chart.name for chart in files.charts],
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
            attachments=draft_attachments(files),
        )
        prepared.append(PreparedDraft(draft, files, message, updated))
    return prepared, problems
