"""`cantines adopt`'s output: the mapping file staff review (English comments, like every settings
file) and the French summary printed for the person who ran it, both from a `Proposal`."""

from __future__ import annotations

from collections.abc import Sequence

from automations.domain.adopt import EXACT, ChoiceProposal, Proposal
from automations.domain.french import pluriel


def _q(text: str) -> str:
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(names: Sequence[str]) -> str:
    return _q(names[0]) if len(names) == 1 else "[" + ", ".join(_q(n) for n in names) + "]"


def render_toml(proposal: Proposal, *, generated: str = "") -> str:
    """The mapping file staff review: every line says how it was matched; what could not be decided is a
    commented line to complete; the base's other columns and what `cantines init` would add are listed."""
    out = [
        f"# Les noms de cette base ({proposal.where}), proposés par `cantines adopt`{generated}.",
        "# Relisez-les, déclarez ce fichier dans les réglages (`[tables] mapping = \"<ce fichier>\"`), puis lancez `cantines init` et `cantines check`.",
        "# À gauche : les noms du robot (config/schema.toml). À droite : les noms de cette base.",
        "# Les lignes `# ... = ?` n'ont pas pu être décidées : écrivez le nom dans la base (ou false) et retirez le « # ».",
        "",
    ]
    init_tables = []
    unchanged = []
    for table in proposal.tables:
        spec = table.spec
        if not table.found:
            if spec.owner == "worker":
                init_tables.append(spec.name)
                continue
            out += [f"[tables.{table.code}]", f"absent = true  # aucune table comme « {spec.name} » : les fonctionnalités "
                    "qui en ont besoin sont désactivées (ou supprimez cette ligne et `cantines init` la crée)", ""]
            continue
        names = list(table.names)
        default_name = names == [spec.name]
        checked = [f"# {_q(c.column)}: {c.note}" for c in table.columns
                   if c.target == c.column and c.how == EXACT and c.note]
        if default_name and not checked and not table.notes and not table.extra and not table.choices \
                and not table.unmatched_options and all(c.target == c.column and c.how == EXACT for c in table.columns):
            unchanged.append(spec.name)
            continue
        lines = [f"[tables.{table.code}]"]
        comment = f"  # {table.how}"
        lines.append((f"# name = {_value(names)}" if default_name else f"name = {_value(names)}") + comment
                     + (" (le nom d'origine)" if default_name else ""))
        for note in table.notes:
            lines.append(f"# {note}")
        lines.extend(checked)
        columns = []
        to_add = []
        for column in table.columns:
            if column.target == column.column and column.how == EXACT:
                continue
            if column.target is not None:
                note = f"{column.how}" + (f"; {column.note}" if column.note else "")
                columns.append(f"{_q(column.column)} = {_q(column.target)}  # {note}")
            elif column.absent:
                columns.append(f"{_q(column.column)} = false  # {column.note}")
                to_add.append(column.column)
            else:
                maybe = f" (peut-être {', '.join(_q(c) for c in column.candidates)})" if column.candidates else ""
                columns.append(f"# {_q(column.column)} = ?{maybe}  # {column.note}")
        if columns:
            lines += ["", f"[tables.{table.code}.columns]", *columns]
        by_column: dict[str, list[ChoiceProposal]] = {}
        for choice in table.choices:
            by_column.setdefault(choice.column, []).append(choice)
        for name in dict.fromkeys([*by_column, *table.unmatched_options]):
            header = f"[tables.{table.code}.choices.{_q(name)}]"
            # a column with no wording to translate gets its section commented out: no empty table in the file
            lines += ["", header if name in by_column else f"# {header}"]
            for choice in by_column.get(name, []):
                lines.append(f"{_q(choice.choice)} = {_value(choice.wordings)}  # {choice.how}")
            left = table.unmatched_options.get(name)
            if left:
                lines.append(f"# formulations de cette base rapprochées d'aucun choix : {', '.join(_q(o) for o in left)}"
                             " (écrivez `\"Choix\" = \"formulation\"` ; les cellules sans choix sont signalées "
                             "comme problèmes de données)")
        if table.extra:
            lines += [f"# colonnes de cette base que le robot ignore : {', '.join(_q(e) for e in table.extra)}"]
        if to_add:
            lines.append(f"# `cantines init` ajouterait (une fois leur ligne `= false` supprimée) : {', '.join(_q(c) for c in to_add)}")
        out += lines + [""]
    if unchanged:
        out.append("# Trouvées sous leurs noms d'origine, toutes leurs colonnes aussi : " + ", ".join(f"« {n} »" for n in unchanged))
    if init_tables:
        out.append("# Les tables du robot, créées par `cantines init` (ou au premier passage) : "
                   + ", ".join(f"« {n} »" for n in init_tables))
    if proposal.other_tables:
        out.append("# Tables de cette base que le robot ignore : " + ", ".join(f"« {n} »" for n in proposal.other_tables))
    for problem in proposal.problems:
        out.append(f"# Illisible : {problem}")
    return "\n".join(out).rstrip() + "\n"


def summary(proposal: Proposal) -> list[str]:
    """A short French summary for the person who ran `adopt`."""
    found = [t for t in proposal.tables if t.found]
    staff_missing = [t for t in proposal.tables if not t.found and t.spec.owner == "staff"]
    worker_missing = [t for t in proposal.tables if not t.found and t.spec.owner == "worker"]
    renamed = sum(1 for t in found for c in t.columns if c.target is not None and c.how != EXACT)
    absent = sum(1 for t in found for c in t.columns if c.absent)
    choices = sum(len(t.choices) for t in found)
    lines = [f"{proposal.where} : {pluriel(len(found), 'table reconnue', 'tables reconnues')} sur {len(proposal.tables)}, "
             f"{pluriel(renamed, 'colonne renommée', 'colonnes renommées')}, {pluriel(absent, 'colonne absente', 'colonnes absentes')}, "
             f"{pluriel(choices, 'choix reformulé', 'choix reformulés')}."]
    undecided = [(t, c) for t in found for c in t.columns if not c.decided]
    if undecided:
        lines.append(f"À décider ({len(undecided)}) : " + " ; ".join(
            f"{t.names[0]} › « {c.column} »" + (f" (peut-être « {c.candidates[0]} »)" if c.candidates else "")
            for t, c in undecided))
    if staff_missing:
        lines.append("Tables introuvables (déclarées absentes) : " + ", ".join(f"« {t.spec.name} »" for t in staff_missing))
    if worker_missing:
        lines.append(f"cantines init créerait les tables du robot : {', '.join(t.spec.name for t in worker_missing)}.")
    if proposal.other_tables:
        lines.append("Tables de la base ignorées : " + ", ".join(f"« {n} »" for n in proposal.other_tables))
    for problem in proposal.problems:
        lines.append(f"Illisible : {problem}")
    return lines
