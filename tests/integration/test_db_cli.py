"""`intervene db status` and `intervene db upgrade` on both databases: a
cluster upgrades its shared database once, before the new workers start."""
from __future__ import annotations

from click.testing import CliRunner

from intervene.cli.main import main
from intervene.store import schema
from intervene.store.db import Store


def test_status_names_what_is_pending_and_upgrade_applies_it_once(store_target):
    run = CliRunner()
    out = run.invoke(main, ["--db", store_target, "db", "status"])
    assert out.exit_code == 0, out.output
    assert "schema version: 0" in out.output and f"pending {schema.LATEST}:" in out.output
    out = run.invoke(main, ["--db", store_target, "db", "upgrade"])
    assert out.exit_code == 0, out.output
    assert out.output.count("applied ") == len(schema.MIGRATIONS)
    out = run.invoke(main, ["--db", store_target, "db", "upgrade"])
    assert "already up to date" in out.output and "applied" not in out.output
    s = Store(store_target, upgrade=False)
    assert s.schema_version() == schema.LATEST
    assert sorted(schema.applied(s.db)) == sorted(m.version for m in schema.MIGRATIONS)


def test_a_database_newer_than_this_intervene_is_refused_with_a_clear_error(store_target):
    s = Store(store_target)
    s.db.execute("insert into schema_version (version, name, applied) values (?, ?, ?)",
                 [schema.LATEST + 1, "from the future", 0.0])
    s.close()
    out = CliRunner().invoke(main, ["--db", store_target, "db", "upgrade"])
    assert out.exit_code != 0 and "newer than this intervene" in out.output, out.output
    assert "Traceback" not in out.output


def test_a_database_url_is_shown_without_its_password():
    from intervene.store.sql import _without_password
    assert _without_password("postgresql://iv:s3cr3t@db.internal:5432/iv") == "postgresql://iv:***@db.internal:5432/iv"
    assert _without_password("postgresql://iv@db/iv") == "postgresql://iv@db/iv"
