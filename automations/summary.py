"""The short French summary printed at the end of a run or a check."""

from __future__ import annotations

from automations.domain.french import date_courte, date_longue, euros, pluriel
from automations.cycle.run import RunReport


def format_report(report: RunReport, *, outbox: str | None = None) -> str:
    """A few lines a coordinator can read: what was read, sent, written, and every problem."""
    title = "Simulation" if report.dry_run else "Cycle"
    lines = [f"{title} du {date_longue(report.today)} : {report.result}"]
    if report.syncs:
        created = sum(r.created for r in report.syncs)
        updated = sum(r.updated for r in report.syncs)
        conflicts = sum(r.conflicts for r in report.syncs)
        lines.append(
            f"  Synchronisations : {len(report.syncs)} ({created} ligne(s) créée(s), {updated} mise(s) à jour"
            + (f", {conflicts} conflit(s)" if conflicts else "") + ")"
        )
    if report.aides is not None and report.aides.sync is not None:
        sync = report.aides.sync
        lines.append(
            f"  Import Aides-territoires : {report.aides.fetched} aide(s) lue(s), {sync.created} nouvelle(s) "
            f"opportunité(s), {sync.updated} mise(s) à jour"
            + (f", {len(report.aides.partners_added)} partenaire(s) ajouté(s)" if report.aides.partners_added else "")
        )
    elif report.aides_note and not report.dry_run:
        lines.append(f"  Import Aides-territoires : {report.aides_note}")
    lines.append(f"  Lu : {pluriel(report.rows_read, 'ligne')}")
    new = "" if report.dry_run else f" ({report.new_matches} nouvelle{'s' if report.new_matches > 1 else ''})"
    lines.append(f"  Correspondances opportunité ↔ cantine : {len(report.matches)}{new}")
    if report.suggestions:
        lines.append(f"  Candidatures collectives possibles ({len(report.suggestions)}) :")
        for suggestion in report.suggestions:
            deadline = suggestion.opportunity.deadline
            lines.append(
                f"    - {suggestion.opportunity.title} : {pluriel(len(suggestion.cantines), 'cantine')}, "
                f"budget cumulé {euros(suggestion.combined_budget)}"
                + (f", date limite {date_courte(deadline)}" if deadline else ", sans date limite")
            )
    if report.offer_proposals:
        verb = "à proposer" if report.dry_run else "proposées"
        lines.append(f"  Offres partenaires {verb} ({len(report.offer_proposals)}) :")
        lines.extend(f"    - {p.offer.name} → {p.cantine.name} ({p.reason})" for p in report.offer_proposals)
    lines.append(f"  Rappels dus aujourd'hui : {report.reminders}")
    if report.digests:
        lines.append(f"  Récapitulatifs de la semaine : {report.digests}")
    if report.drafts:
        lines.append(f"  Brouillons de bilans préparés : {report.drafts}")
        lines.extend(f"    - {path}" for path in report.draft_files)
    if report.dry_run:
        already = f", {report.already_queued} déjà envoyés auparavant" if report.already_queued else ""
        lines.append(f"  Messages qui seraient envoyés : {len(report.messages)}{already} (rien n'est mis en file)")
        for message in report.messages:
            lines.append(f"    - à {', '.join(message.to)} : {message.subject}")
    else:
        lines.append(
            f"  Messages : {report.queued} mis en file, {report.already_queued} déjà traités auparavant, "
            f"{report.sent} envoyés" + (f", {report.send_failures} en échec" if report.send_failures else "")
        )
        if report.pending:
            lines.append(f"  En attente d'envoi : {report.pending}")
        if report.held_total:
            lines.append(f"  Mis de côté (à vérifier avant de renvoyer) : {report.held_total}")
        if outbox and report.sent:
            lines.append(f"  Boîte d'envoi locale : {outbox}")
        lines.append(f"  Écrit dans les tables : {pluriel(report.rows_written, 'ligne')}")
    if report.quota_note:
        lines.append(f"  Quotas : {report.quota_note}")
    if report.errors:
        lines.append(f"  Erreurs ({len(report.errors)}) :")
        lines.extend(f"    - {error}" for error in report.errors)
    if report.problems:
        lines.append(f"  Problèmes de données ({len(report.problems)}) : lignes ignorées, à corriger")
        lines.extend(f"    - {problem}" for problem in report.problems)
    else:
        lines.append("  Aucun problème de données.")
    return "\n".join(lines)
