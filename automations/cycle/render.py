"""Render French emails and documents from templates staff may edit.

Templates run in Jinja2's ImmutableSandboxedEnvironment with StrictUndefined: a typo in a template
fails loudly instead of sending a blank, and a template cannot reach into Python. Subjects and text
parts render without escaping; HTML parts with autoescape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import Environment, FileSystemLoader, Template, StrictUndefined, TemplateError, TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from connectors.errors import CantinesError, ConfigurationError

from automations.domain.french import FILTERS, FilterError, espaces_insecables


class TemplateFailure(CantinesError):
    """A template staff edited cannot render (an unknown variable, a syntax error, a division by
    zero, a filter on the wrong value…): the messages it makes are left out and reported, in French,
    naming the template file; the other messages go on."""

    def __init__(self, message: str, *, template: str = ""):
        super().__init__(message)
        self.template = template  # the file, relative to the templates folder: "emails/x/body.txt"


class MissingTemplateError(TemplateFailure, ConfigurationError):
    """A part of a template (subject.txt, body.txt, body.html) is not in the templates folder: a
    deployment error, which still costs only the messages of that template."""


def why_it_failed(exc: BaseException) -> str:
    """What went wrong in a template, in French, for staff who edited it."""
    if isinstance(exc, TemplateNotFound):
        return (f"le fichier inclus « {exc.name} » est introuvable dans le dossier des modèles "
                "(les inclusions hors de ce dossier sont refusées)")
    if isinstance(exc, TemplateSyntaxError):
        return f"erreur de syntaxe : {exc.message}"
    if isinstance(exc, SecurityError):
        return f"accès refusé par le bac à sable des modèles : {exc}"
    if isinstance(exc, UndefinedError):
        return f"variable ou attribut inconnu : {exc}"
    if isinstance(exc, FilterError):
        return str(exc)
    if isinstance(exc, ZeroDivisionError):
        return "division par zéro"
    if isinstance(exc, RecursionError):
        return "appels sans fin (une macro qui s'appelle elle-même ?)"
    if isinstance(exc, TypeError):
        return f"opération impossible sur ces valeurs (une valeur vide comparée ou calculée ?) : {exc}"
    if isinstance(exc, TemplateError):
        return str(exc)
    return f"erreur {type(exc).__name__} : {exc}"


def template_line(exc: BaseException, folder: Path) -> tuple[str, int] | None:
    """The template file (relative to `folder`) and line where `exc` was raised: Jinja rewrites the
    traceback so that template frames carry the template's own file name and line."""
    if isinstance(exc, TemplateSyntaxError):
        return (exc.name, exc.lineno) if exc.name and exc.lineno else None
    found = None
    tb: TracebackType | None = exc.__traceback__
    root = folder.resolve()
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.endswith(".py") and not filename.startswith("<"):
            path = Path(filename).resolve()
            if path.is_relative_to(root):
                found = (str(path.relative_to(root)), tb.tb_lineno)
        tb = tb.tb_next
    return found


def render_safely(render: Callable[[], str], template: str, folder: Path, label: str) -> str:
    """Run `render` (one template); anything the template raises becomes a TemplateFailure naming
    `label` ("le modèle « rappel_echeance »"), the file and line, and what went wrong in French."""
    try:
        return render()
    except RecursionError as exc:  # the traceback is a thousand frames deep: do not walk it
        raise TemplateFailure(f"{label} ne peut pas être rendu ({template}) : {why_it_failed(exc)}",
                              template=template) from exc
    except Exception as exc:  # whatever a staff-edited template raises costs its messages only
        where = template_line(exc, folder)
        place = f"{where[0]}, ligne {where[1]}" if where else template
        raise TemplateFailure(f"{label} ne peut pas être rendu ({place}) : {why_it_failed(exc)}",
                              template=template) from exc


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class StaffNames:
    """The names templates show staff for tables, columns and choices: the base's own (its mapping
    file) where it has one, the shipped ones otherwise. In templates: `nom_table("echeances",
    "Échéances")`, `colonne("questions", "Réponse")`, `choix("echeances", "Statut", "Envoyée")`."""

    def __init__(self, names: Any = None):
        self.names = names  # automations.settings.mapping.BaseNames, or None (the shipped names)

    def table(self, code: str, shipped: str) -> str:
        return shipped if self.names is None or code not in self.names.shipped else self.names.table_name(code)

    def column(self, code: str, column: str) -> str:
        return column if self.names is None or code not in self.names.shipped else self.names.column_name(code, column)

    def choice(self, code: str, column: str, value: Any) -> Any:
        if self.names is None or code not in self.names.shipped or not isinstance(value, str):
            return value
        return self.names.choice_name(code, column, value)


def make_environment(folder: Path, *, autoescape: bool, names: Any = None) -> ImmutableSandboxedEnvironment:
    """A sandboxed Jinja2 environment over `folder` with the French filters and the staff's names."""
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    staff = StaffNames(names)
    env.globals.update(nom_table=staff.table, colonne=staff.column, choix=staff.choice)
    return env


def load_template(env: Environment, path: str, templates: Path, what: str) -> Template:
    """A template by its path under the templates folder: a missing file is a MissingTemplateError; a
    syntax error, or an {% include %} of a missing file, a TemplateFailure naming the file (and line)."""
    try:
        return env.get_template(path)
    except TemplateNotFound as exc:
        if exc.name != path:  # an {% include %} of the template: its slip
            raise TemplateFailure(f"{what} ne peut pas être rendu ({path}) : {why_it_failed(exc)}",
                                  template=path) from exc
        raise MissingTemplateError(f"fichier de modèle introuvable : {templates / path}", template=path) from None
    except TemplateSyntaxError as exc:
        raise TemplateFailure(f"{what} ne peut pas être rendu ({path}, ligne {exc.lineno}) : {why_it_failed(exc)}",
                              template=path) from exc


class Renderer:
    """Renders `emails/<name>/subject.txt`, `body.txt` and `body.html` from the templates folder."""

    def __init__(self, templates: Path, names: Any = None):
        self.templates = templates
        self.text_env = make_environment(templates, autoescape=False, names=names)
        self.html_env = make_environment(templates, autoescape=True, names=names)

    def email(self, name: str, context: dict[str, Any]) -> RenderedEmail:
        parts: dict[str, str] = {}
        for part, env in (("subject.txt", self.text_env), ("body.txt", self.text_env), ("body.html", self.html_env)):
            path = f"emails/{name}/{part}"
            template = load_template(env, path, self.templates, f"le modèle « {name} »")
            parts[part] = render_safely(lambda: template.render(context), path, self.templates, f"le modèle « {name} »")
        text = re.sub(r"\n[ \t]*(\n[ \t]*)+\n", "\n\n", parts["body.txt"])  # blocks left empty by conditions
        subject = parts["subject.txt"]
        return RenderedEmail(
            subject=espaces_insecables(" ".join(subject.split())),
            text=espaces_insecables(text.strip()) + "\n",
            html=espaces_insecables(parts["body.html"], html=True),
        )
