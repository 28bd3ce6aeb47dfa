"""Render French emails and documents from templates staff may edit.

Templates run in Jinja2's ImmutableSandboxedEnvironment with StrictUndefined: a typo in a template
fails loudly instead of sending a blank, and a template cannot reach into Python. Subjects and text
parts render without escaping; HTML parts with autoescape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connectors.errors import CantinesError, ConfigurationError

from automations.domain.french import FILTERS, espaces_insecables


class TemplateFailure(CantinesError):
    """A template staff edited cannot render (an unknown variable, a syntax error): the message it
    makes is left out and reported; the other messages go on."""

@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def make_environment(folder: Path, *, autoescape: bool) -> ImmutableSandboxedEnvironment:
    """A sandboxed Jinja2 environment over `folder` with the French filters."""
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


class Renderer:
    """Renders `emails/<name>/subject.txt`, `body.txt` and `body.html` from the templates folder."""

    def __init__(self, templates: Path):
        self.templates = templates
        self.text_env = make_environment(templates, autoescape=False)
        self.html_env = make_environment(templates, autoescape=True)

    def email(self, name: str, context: dict[str, Any]) -> RenderedEmail:
        try:
            subject = self.text_env.get_template(f"emails/{name}/subject.txt").render(context)
            text = self.text_env.get_template(f"emails/{name}/body.txt").render(context)
            html = self.html_env.get_template(f"emails/{name}/body.html").render(context)
        except TemplateNotFound as exc:
            raise ConfigurationError(f"email template not found: {self.templates / exc.name}") from None
        except TemplateError as exc:
            where = f" (ligne {exc.lineno})" if getattr(exc, "lineno", None) else ""
            raise TemplateFailure(f"le modèle « {name} » ne peut pas être rendu{where} : {exc}") from exc
        text = re.sub(r"\n[ \t]*(\n[ \t]*)+\n", "\n\n", text)  # blocks left empty by conditions
        return RenderedEmail(
            subject=espaces_insecables(" ".join(subject.split())),
            text=espaces_insecables(text.strip()) + "\n",
            html=espaces_insecables(html, html=True),
        )
