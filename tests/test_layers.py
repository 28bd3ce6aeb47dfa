"""The architecture stays what the folders say: layers whose imports only go down, no import circle,
a domain without I/O or clock, and light entry points.

Layers, from the bottom: `automations.domain` (pure) → `automations.settings` → `automations.cycle`
→ the entry points (`automations.cli`, `worker`, `status`, `demo`…). `connectors` sits beside them all
and never imports `automations`. The domain may use the connectors' pure vocabulary only: the error
tree and the table interface's value types (`connectors.errors`, `connectors.tables.base`,
`connectors.tables.values`), which are themselves checked to do no I/O.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("automations", "connectors")

DOMAIN_MAY_USE = {"connectors.errors", "connectors.tables.base", "connectors.tables.values"}
# Modules that reach the outside world (files, network, databases, processes) or the environment.
IO_MODULES = {
    "openpyxl", "requests", "urllib3", "httpx", "sqlalchemy", "psycopg", "sqlite3", "smtplib", "imaplib",
    "socket", "ssl", "http", "urllib.request", "subprocess", "shutil", "tempfile", "os", "io", "pathlib",
    "glob", "csv", "tomllib", "logging", "threading", "signal", "schedule", "filelock", "gspread",
    "pyairtable", "sendgrid", "google", "docx", "docxtpl", "matplotlib", "jinja2", "time", "random",
}
# Calls that read the clock or the environment.
CLOCK_CALLS = {("date", "today"), ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"),
               ("time", "time"), ("time", "monotonic"), ("os", "getenv"), ("environ", "get")}
HEAVY = ("pyairtable", "gspread", "matplotlib", "sqlalchemy", "openpyxl", "sendgrid", "docx", "docxtpl",
         "google.auth", "requests", "psycopg")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


MODULES = project_modules()


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions (lazy imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (write it absolute)"
            if node.module:
                found.add(node.module)
                # `from automations.domain import parsing` imports a module
                found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
    return found


def project_imports(name: str) -> set[str]:
    return {m for m in imports_of(MODULES[name]) if m in MODULES and m != name}


def layer(name: str) -> tuple[str, int]:
    if name.startswith("connectors"):
        return "connectors", -1
    for prefix, rank in (("automations.domain", 0), ("automations.settings", 1), ("automations.cycle", 2)):
        if name == prefix or name.startswith(prefix + "."):
            return prefix, rank
    return "entry points", 3


def test_every_module_is_found():
    assert "automations.domain.matching" in MODULES and "connectors.tables.airtable.client" in MODULES
    assert len(MODULES) > 50


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_only_go_down(name: str):
    """An automations module imports its own layer or lower; connectors never import automations."""
    own, rank = layer(name)
    for target in sorted(project_imports(name)):
        target_layer, target_rank = layer(target)
        if rank == -1:
            assert target_rank == -1, f"{name} (connectors) imports {target}"
        elif target_rank == -1:
            if rank == 0:
                assert target in DOMAIN_MAY_USE, f"{name} (domain) imports {target}, which may do I/O"
        else:
            assert target_rank <= rank, f"{name} ({own}) imports upward: {target} ({target_layer})"


def test_no_import_circle():
    graph = {name: project_imports(name) for name in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " → ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


PURE = sorted(n for n in MODULES if layer(n)[1] == 0) + sorted(DOMAIN_MAY_USE)


@pytest.mark.parametrize("name", PURE)
def test_domain_does_no_io(name: str):
    """No I/O library, no clock, no environment in the domain and the vocabulary it borrows."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for imported in imports_of(MODULES[name]):
        top = imported.split(".")[0]
        assert top not in IO_MODULES and imported not in IO_MODULES, f"{name} imports {imported}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                assert func.id not in {"open", "print", "input"}, f"{name} calls {func.id}() (line {node.lineno})"
            if isinstance(func, ast.Attribute):
                owner = func.value
                owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
                assert (owner_name, func.attr) not in CLOCK_CALLS, (
                    f"{name} reads the clock or the environment: {owner_name}.{func.attr}() (line {node.lineno})"
                )


def loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()
    return {m for m in HEAVY if m in out}


def test_domain_imports_nothing_heavy():
    code = "\n".join(f"import {name}" for name in PURE)
    assert loaded_after(code) == set()


def test_settings_and_cli_stay_light():
    """`cantines --help`, `cantines check`'s settings step and loading settings import no backend."""
    code = ("from pathlib import Path\nimport automations.cli\nfrom automations.settings import load_settings\n"
            "load_settings(Path('config/demo.toml'), environ={})")
    assert loaded_after(code) == set()


def test_clock_probe_catches_a_clock_read():
    """The probe above would see a clock read (guards the test itself)."""
    tree = ast.parse("import datetime as dt\ndef f():\n    return dt.date.today()\n")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    assert any((c.func.value.attr, c.func.attr) in CLOCK_CALLS for c in calls)
