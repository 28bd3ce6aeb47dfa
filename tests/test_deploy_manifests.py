"""The deploy buttons' manifests (`app.json` for Heroku, `scalingo.json` for Scalingo): valid by the
formats their platforms document, and naming every environment variable the worker reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
import pytest

from automations import settings as settings_module
from automations.cli import cli
from automations.logs import SECRET_VARIABLES

from .conftest import REPO

VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def manifest(name: str) -> dict[str, Any]:
    return json.loads((REPO / name).read_text(encoding="utf-8"))


def procfile_processes() -> set[str]:
    lines = (REPO / "Procfile").read_text(encoding="utf-8").splitlines()
    return {line.split(":", 1)[0].strip() for line in lines if ":" in line and not line.startswith("#")}


def variables_read() -> set[str]:
    """Every environment variable the worker reads, from the code: the settings' names, the CLI's
    `envvar`s, and any literal `environ.get("…")` / `environ["…"]` in the sources."""
    names = set(settings_module.ENV_DATABASE_URLS) | set(settings_module.ENV_SECRETS)
    names |= set(settings_module.MAIL_SECRETS.values()) | set(SECRET_VARIABLES)

    def envvars(command: click.Command) -> None:
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            names.update([envvar] if isinstance(envvar, str) else envvar or [])
        for sub in getattr(command, "commands", {}).values():
            envvars(sub)

    envvars(cli)
    literal = re.compile(r"""environ(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]*)["']""")
    for folder in ("automations", "connectors"):
        for path in (REPO / folder).rglob("*.py"):
            names.update(literal.findall(path.read_text(encoding="utf-8")))
    return names


def check_env(env: Any, allowed: set[str], where: str) -> list[str]:
    problems = []
    if not isinstance(env, dict):
        return [f"{where}: env must be an object"]
    for name, entry in env.items():
        if not VARIABLE.match(name):
            problems.append(f"{where}: env {name}: not a variable name")
        if not isinstance(entry, dict):
            problems.append(f"{where}: env {name}: expected an object with a description")
            continue
        if set(entry) - allowed:
            problems.append(f"{where}: env {name}: unknown keys {sorted(set(entry) - allowed)}")
        if not isinstance(entry.get("description"), str) or not entry["description"].strip():
            problems.append(f"{where}: env {name}: no description")
        if "value" in entry and not isinstance(entry["value"], str):
            problems.append(f"{where}: env {name}: value must be a string")
        if "required" in entry and not isinstance(entry["required"], bool):
            problems.append(f"{where}: env {name}: required must be true or false")
        if "generator" in entry and "value" in entry:
            problems.append(f"{where}: env {name}: value or generator, not both")
    return problems


def heroku_problems(doc: dict[str, Any]) -> list[str]:
    """app.json as devcenter.heroku.com/articles/app-json-schema describes it."""
    keys = {"name", "description", "keywords", "website", "repository", "logo", "success_url", "scripts",
            "env", "formation", "image", "addons", "buildpacks", "environments", "stack"}
    problems = [f"app.json: unknown key '{k}'" for k in sorted(set(doc) - keys)]
    name = doc.get("name", "")
    if not (isinstance(name, str) and 3 <= len(name) <= 30 and re.match(r"^[a-zA-Z-_.]+$", name)):
        problems.append("app.json: name must be 3 to 30 letters, '-', '_' or '.'")
    if not isinstance(doc.get("description", ""), str) or len(doc.get("description", "")) > 140:
        problems.append("app.json: description must be a string of at most 140 characters")
    problems += check_env(doc.get("env", {}), {"description", "value", "required", "generator"}, "app.json")
    for name, entry in doc.get("env", {}).items():
        if isinstance(entry, dict) and entry.get("generator", "secret") != "secret":
            problems.append(f"app.json: env {name}: the only generator is 'secret'")
    for process, spec in doc.get("formation", {}).items():
        if not isinstance(spec, dict) or set(spec) - {"quantity", "size"}:
            problems.append(f"app.json: formation {process}: only quantity and size")
        elif not isinstance(spec.get("quantity"), int) or spec["quantity"] < 0:
            problems.append(f"app.json: formation {process}: quantity must be a whole number ≥ 0")
    for addon in doc.get("addons", []):
        if isinstance(addon, dict):
            if not isinstance(addon.get("plan"), str) or set(addon) - {"plan", "as", "options"}:
                problems.append(f"app.json: addon {addon}: a plan, and optionally as and options")
        elif not isinstance(addon, str):
            problems.append(f"app.json: addon {addon!r}: a plan name or an object")
    scripts = doc.get("scripts", {})
    if not isinstance(scripts, dict) or set(scripts) - {"postdeploy", "pr-predestroy"}:
        problems.append("app.json: scripts: only postdeploy and pr-predestroy")
    for buildpack in doc.get("buildpacks", []):
        if not isinstance(buildpack, dict) or set(buildpack) != {"url"} or not isinstance(buildpack["url"], str):
            problems.append(f"app.json: buildpack {buildpack!r}: an object with a url")
    return problems


def scalingo_problems(doc: dict[str, Any]) -> list[str]:
    """scalingo.json as developers.scalingo.com/scalingo-json-schema describes it."""
    keys = {"$schema", "name", "description", "website", "logo", "repository", "ref", "stack",
            "copy_parent_database_urls", "env", "addons", "scripts", "formation"}
    problems = [f"scalingo.json: unknown key '{k}'" for k in sorted(set(doc) - keys)]
    for key in ("name", "description"):
        if not isinstance(doc.get(key, ""), str):
            problems.append(f"scalingo.json: {key} must be a string")
    problems += check_env(doc.get("env", {}), {"description", "value", "generator", "template", "required"},
                          "scalingo.json")
    for addon in doc.get("addons", []):
        plan = addon.get("plan") if isinstance(addon, dict) else None
        if not isinstance(plan, str) or not re.match(r"^[a-z0-9-]+:[a-z0-9-]+$", plan):
            problems.append(f"scalingo.json: addon {addon!r}: a plan 'addon:plan'")
        elif set(addon) - {"plan", "options"} or set(addon.get("options", {})) - {"version"}:
            problems.append(f"scalingo.json: addon {plan}: only plan and options.version")
    scripts = doc.get("scripts", {})
    if not isinstance(scripts, dict) or set(scripts) - {"first-deploy", "postdeploy"}:
        problems.append("scalingo.json: scripts: only first-deploy (and the deprecated postdeploy)")
    for process, spec in doc.get("formation", {}).items():
        if not isinstance(spec, dict) or set(spec) - {"amount", "size"}:
            problems.append(f"scalingo.json: formation {process}: only amount and size")
        elif not isinstance(spec.get("amount"), int) or spec["amount"] < 0:
            problems.append(f"scalingo.json: formation {process}: amount must be a whole number ≥ 0")
        elif spec.get("size", "M") not in ("S", "M", "L", "XL", "2XL"):
            problems.append(f"scalingo.json: formation {process}: unknown size {spec['size']}")
    return problems


# What each PostgreSQL add-on sets: the worker reads one of ENV_DATABASE_URLS.
DATABASE_ADDONS = {"app.json": ("heroku-postgresql", "DATABASE_URL"),
                   "scalingo.json": ("postgresql", "SCALINGO_POSTGRESQL_URL")}


@pytest.mark.parametrize("name", ["app.json", "scalingo.json"])
def test_the_manifest_is_valid_and_names_every_variable_the_worker_reads(name: str) -> None:
    doc = manifest(name)
    assert (heroku_problems if name == "app.json" else scalingo_problems)(doc) == []

    process_key = "quantity" if name == "app.json" else "amount"
    assert set(doc["formation"]) <= procfile_processes()
    assert doc["formation"]["worker"][process_key] == 1  # the worker runs; there is no web process

    addon, database_variable = DATABASE_ADDONS[name]
    plans = [a if isinstance(a, str) else a["plan"] for a in doc["addons"]]
    assert any(p.split(":")[0] == addon for p in plans), f"{name}: no PostgreSQL add-on"
    assert database_variable in settings_module.ENV_DATABASE_URLS

    read = variables_read()
    assert {"CANTINES_CONFIG", "AIRTABLE_TOKEN", "SENDGRID_API_KEY", "DATABASE_URL"} <= read  # the scan works
    declared = set(doc["env"])
    missing = read - declared - set(settings_module.ENV_DATABASE_URLS)
    assert not missing, f"{name} does not declare {sorted(missing)}"
    assert not declared - read, f"{name} declares variables the worker never reads: {sorted(declared - read)}"
    assert not declared & set(settings_module.ENV_DATABASE_URLS)  # the add-on sets it; a value here would hide it
    assert doc["env"]["CANTINES_CONFIG"]["required"] is True
    assert all(entry.get("required") is False for n, entry in doc["env"].items() if n != "CANTINES_CONFIG")

    # after the first deploy, the platform creates the tables (no shell): a real, idempotent command
    (script,) = doc["scripts"].values()
    program, *words = script.split()
    assert program == "cantines" and words == ["init"]
    assert cli.get_command(click.Context(cli), "init") is not None


def test_both_manifests_declare_the_same_variables_and_the_readme_links_both_buttons() -> None:
    heroku, scalingo = manifest("app.json"), manifest("scalingo.json")
    assert heroku["env"] == scalingo["env"]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "heroku.com/deploy" in readme and "my.scalingo.com/deploy" in readme


def test_a_manifest_with_mistakes_is_caught(tmp_path: Path) -> None:
    broken = manifest("app.json") | {"formation": {"worker": {"quantity": "one"}}, "colour": "blue"}
    broken["env"] = dict(broken["env"]) | {"lower_case": {"description": ""}}
    problems = heroku_problems(broken)
    assert any("unknown key 'colour'" in p for p in problems)
    assert any("quantity" in p for p in problems)
    assert any("lower_case: not a variable name" in p for p in problems)
    assert any("lower_case: no description" in p for p in problems)
    assert scalingo_problems({"addons": [{"plan": "postgresql"}], "formation": {"worker": {"amount": 1, "size": "XXL"}}})
