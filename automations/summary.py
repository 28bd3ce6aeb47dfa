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
            f"  Synchronisations : {len(report.syncs)} ({pluriel(created, 'ligne créée')}, "
            f"{pluriel(updated, 'mise à jour')}" + (f", {pluriel(conflicts, 'conflit')}" if conflicts else "") + ")"
        )
    if report.aides is not None and report.aides.sync is not None:
        sync = report.aides.sync
        lines.append(
            f"  Import Aides-territoires : {pluriel(report.aides.fetched, 'aide lue')}, "
            f"{pluriel(sync.created, 'nouvelle opportunité')}, {pluriel(sync.updated, 'mise à jour')}"
            + (f", {pluriel(len(report.aides.partners_added), 'partenaire ajouté')}" if report.aides.partners_added else "")
            + (f", {pluriel(report.aides.outside_skipped, 'aide locale ignorée')} (hors des départements du réseau)"
               if report.aides.outside_skipped else "")
        )
    elif report.aides_note and not report.dry_run:
        lines.append(f"  Import Aides-territoires : {report.aides_note}")
    for note in report.features_off:
        lines.append(f"  {note}")
    if report.hotline is not None:
        h = report.hotline
        lines.append(
            f"  Hotline : {pluriel(h.read, 'message lu', 'messages lus')}, "
            f"{pluriel(h.questions, 'nouvelle question', 'nouvelles questions')}, "
            f"{pluriel(h.answers, 'réponse relevée', 'réponses relevées')}"
        )
    lines.append(f"  Lu : {pluriel(report.rows_read, 'ligne')}")
    new = "" if report.dry_run else f" ({pluriel(report.new_matches, 'nouvelle')})"
    if report.off and "matching" in report.off:
        lines.append("  Correspondances opportunité ↔ cantine : désactivées (voir ci-dessus)")
    elif report.matching_waits:
        lines.append("  Correspondances opportunité ↔ cantine : non calculées (voir « Reporté » ci-dessous)")
    else:
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
        already = f", {pluriel(report.already_queued, 'déjà envoyé')} auparavant" if report.already_queued else ""
        lines.append(f"  Messages qui seraient envoyés : {len(report.messages)}{already} (rien n'est mis en file)")
        for message in report.messages:
            lines.append(f"    - à {', '.join(message.to)} : {message.subject}")
    else:
        lines.append(
            f"  Messages : {report.queued} mis en file, {pluriel(report.already_queued, 'déjà traité', 'déjà traités')} "
            f"auparavant, {pluriel(report.sent, 'envoyé')}"
            + (f", {report.send_failures} en échec" if report.send_failures else "")
        )
        if report.pending:
            lines.append(f"  En attente d'envoi : {report.pending}"
                         + (f" (dont {report.deferred} non tenté(s) faute de temps : ils partiront au prochain cycle)"
                            if report.deferred else ""))
        if report.held_total:
            lines.append(f"  Mis de côté (à vérifier avant de renvoyer) : {report.held_total}")
        if report.relaunched:
            lines.append(f"  Relancés depuis la table Envois : {report.relaunched}")
        if outbox and report.sent:
            lines.append(f"  Boîte d'envoi locale : {outbox}")
        lines.append(f"  Écrit dans les tables : {pluriel(report.rows_written, 'ligne')}")
    if report.postponed:
        lines.append(f"  Reporté à la prochaine lecture complète ({len(report.postponed)}) :")
        lines.extend(f"    - {line}" for line in report.postponed)
    for note in (report.quota_note, report.mail_note):
        if note:
            lines.append(f"  Quotas : {note}")
    if report.errors:
        lines.append(f"  Erreurs ({len(report.errors)}) :")
        lines.extend(f"    - {error}" for error in report.errors)
    checks = set(report.checks)
    rows = [problem for problem in report.problems if problem not in checks]
    if rows:
        lines.append(f"  Problèmes de données ({len(rows)}) : lignes ignorées, à corriger")
        lines.extend(f"    - {problem}" for problem in rows)
    else:
        lines.append("  Aucun problème de données.")
    if report.checks:  # also in Problèmes: what a funder would find, the row is kept
        lines.append(f"  Contrôles des subventions ({len(report.checks)}) : à vérifier avant qu'un financeur ne le fasse")
        lines.extend(f"    - {problem}" for problem in report.checks)
    return "\n".join(lines)
