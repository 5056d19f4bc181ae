"""Backup and restore: a backup of the demo clinic restores, row for row, into an empty database."""

import re
import stat

import flask_migrate
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from groupvisits import create_app
from groupvisits.accounts import services as accounts
from groupvisits.accounts.models import User
from groupvisits.backup import PG_DUMP_MAGIC, SQLITE_MAGIC
from groupvisits.demo import DEMO_SITE
from groupvisits.extensions import db as _db
from groupvisits.schedule.feeds import renew_feed
from groupvisits.sites.models import Site


@pytest.fixture
def invoke(runner):
    """Run ``groupvisits <args>`` on the test database and return click's result."""

    def run(*args: str):
        return runner.invoke(args=["groupvisits", *args])

    return run


@pytest.fixture
def clinic(invoke, db):
    """The demo clinic, with a row in every table (invitation, outbox, sign-in, feed too)."""
    assert invoke("seed-demo").exit_code == 0
    result = invoke(
        "create-user",
        "--email",
        "new.coordinator@riverside.example.org",
        "--role",
        "coordinator",
        "--given-name",
        "Nova",
        "--family-name",
        "Coordinator",
        "--site",
        DEMO_SITE,
    )
    assert result.exit_code == 0, result.output
    patient = db.session.scalar(select(User).where(User.email.like("patient01@%")))
    accounts.start_sign_in(patient, ip_address="127.0.0.1", user_agent="pytest")
    renew_feed(patient)
    accounts.request_password_reset("someone@mail.example.org")
    db.session.commit()
    empty = [name for name, rows in table_rows(db.engine).items() if not rows]
    assert empty == [], f"tables the test data leaves empty: {empty}"
    db.session.remove()


@pytest.fixture
def backup_file(tmp_path, database_url):
    """Where the backup goes; named like what each database writes."""
    suffix = ".sqlite" if database_url.startswith("sqlite") else ".dump"
    return tmp_path / f"groupvisits-backup{suffix}"


@pytest.fixture
def empty_database_url(database_url, tmp_path):
    """A database with nothing in it, beside the test database: a new file or a new database."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    url = make_url(database_url)
    name = f"{url.database}_restore"
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def table_rows(engine) -> dict[str, list[tuple]]:
    """Every row of every table of the app, all columns, in a stable order."""
    with engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(table.select())), key=repr)
            for table in _db.metadata.sorted_tables
        }


def app_for(url: str):
    return create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": url})


def restore_into(target_app, path, *options: str):
    """Run ``restore`` in the target app (the CLI would otherwise reuse the test's own app)."""
    with target_app.app_context():
        runner = target_app.test_cli_runner()
        return runner.invoke(args=["groupvisits", "restore", str(path), *options])


# backup


def test_backup_writes_a_private_file_of_the_database_kind_and_prints_row_counts(
    clinic, invoke, db, backup_file, database_url
):
    result = invoke("backup", str(backup_file))

    assert result.exit_code == 0, result.output
    assert backup_file.stat().st_size > 0
    assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600  # patient data: owner only
    magic = SQLITE_MAGIC if database_url.startswith("sqlite") else PG_DUMP_MAGIC
    assert backup_file.read_bytes()[: len(magic)] == magic
    users = db.session.scalar(select(func.count()).select_from(User))
    assert re.search(rf"^\s+users\s+{users}$", result.output, re.MULTILINE), result.output
    assert f"to {backup_file}" in result.output


def test_backup_into_a_missing_folder_is_a_clear_error(clinic, invoke, tmp_path):
    result = invoke("backup", str(tmp_path / "no-such-folder" / "backup"))

    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


# restore into an empty database


@pytest.mark.parametrize("schema", ["none", "migrated"])
def test_restore_into_an_empty_database_gives_back_every_row_of_every_table(
    clinic, invoke, db, backup_file, empty_database_url, schema
):
    """The target may be a bare file or database, or one with the schema migrated but no rows."""
    assert invoke("backup", str(backup_file)).exit_code == 0
    target_app = app_for(empty_database_url)
    if schema == "migrated":
        with target_app.app_context():
            flask_migrate.upgrade()
            _db.engine.dispose()

    result = restore_into(target_app, backup_file)

    assert result.exit_code == 0, result.output
    assert f"from {backup_file}" in result.output
    target = create_engine(empty_database_url)
    try:
        expected, restored = table_rows(db.engine), table_rows(target)
    finally:
        target.dispose()
    assert set(restored) == set(expected)
    for name in expected:
        assert restored[name] == expected[name], f"table {name} differs after restore"
    with target_app.app_context():
        # Identity counters came back too: a new row does not collide with a restored one.
        highest = _db.session.scalar(select(func.max(Site.id)))
        site = Site(name="Opened after the restore", timezone="America/Chicago")
        _db.session.add(site)
        _db.session.commit()
        assert site.id > highest
        _db.session.remove()
        _db.engine.dispose()


# restore into a database with data


def test_restore_refuses_a_database_with_data_without_yes(clinic, invoke, db, backup_file):
    assert invoke("backup", str(backup_file)).exit_code == 0
    db.session.add(Site(name="Opened after the backup", timezone="America/Chicago"))
    db.session.commit()
    before = table_rows(db.engine)

    result = invoke("restore", str(backup_file))

    assert result.exit_code == 1
    assert "not empty" in result.output
    assert "--yes" in result.output
    assert "Traceback" not in result.output
    db.session.remove()
    assert table_rows(db.engine) == before


def test_restore_with_yes_replaces_a_database_with_data(clinic, invoke, db, backup_file):
    assert invoke("backup", str(backup_file)).exit_code == 0
    backed_up = table_rows(db.engine)
    db.session.add(Site(name="Opened after the backup", timezone="America/Chicago"))
    db.session.commit()
    db.session.remove()

    result = invoke("restore", "--yes", str(backup_file))

    assert result.exit_code == 0, result.output
    assert table_rows(db.engine) == backed_up
    assert db.session.scalar(select(Site).where(Site.name == "Opened after the backup")) is None


# bad files


def test_restore_from_a_missing_file_is_a_clear_error(app, invoke, db, tmp_path):
    missing = tmp_path / "no-such-backup"

    result = invoke("restore", str(missing))

    assert result.exit_code == 1
    assert f"No backup file at {missing}" in result.output
    assert "Traceback" not in result.output


def test_restore_from_a_file_that_is_no_backup_is_a_clear_error(clinic, invoke, db, tmp_path):
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("shopping list\n")
    before = table_rows(db.engine)

    result = invoke("restore", "--yes", str(not_a_backup))

    assert result.exit_code == 1
    assert "is not a" in result.output
    assert "backup" in result.output
    assert table_rows(db.engine) == before
