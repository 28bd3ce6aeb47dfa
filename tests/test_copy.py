"""`cantines copy`: a whole deployment into another, idempotent, through the sync engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from automations.cycle.backends import open_tables
from automations.cli import cli
from automations.demo import write_demo_workbook
from automations.domain.model import DOMAIN_TABLES
from automations.settings import load_settings

from .conftest import write_config
from .fakes.airtable import BASE_ID, TOKEN, UNPACED, FakeAirtable


def test_copy_a_workbook_deployment_into_airtable_then_again_writes_nothing(tmp_path: Path) -> None:
    source_path = write_config(tmp_path / "source")
    source = load_settings(source_path, {})
    write_demo_workbook(source, dt.date(2026, 11, 24))
    with FakeAirtable(rate_limit=None) as fake:
        env = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": fake.url}
        target_path = write_config(tmp_path / "target", tables='backend = "airtable"', airtable=UNPACED)
        first = CliRunner().invoke(cli, ["copy", "--from", str(source_path), "--to", str(target_path)], env=env)
        assert first.exit_code == 0, first.output
        assert "Cantines : 30 lignes créées" in first.output  # 31 rows, one a duplicate (reported)
        assert "doublon" in first.output
        target = load_settings(target_path, env)
        copied = open_tables(target)
        original = open_tables(source)
        for code in ("cantines", "conventions", "echeances", "indicateurs"):
            assert len(copied[code].read()) >= len(original[code].read()) - 3, code  # values Airtable refuses aside
        fake.reset_counts()
        again = CliRunner().invoke(cli, ["copy", "--from", str(source_path), "--to", str(target_path)], env=env)
        assert again.exit_code == 0, again.output
        assert " 0 ligne créée, 0 mise à jour" in again.output
        writes = [r for r in fake.log if r.kind in ("create", "update", "upsert", "delete")]
        refused = [r for r in writes if r.status and r.status >= 400]
        assert len(writes) == len(refused)  # only rows Airtable keeps refusing are tried again
        assert all(code in {*DOMAIN_TABLES, *target.schema} for code in copied)
