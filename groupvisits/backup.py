"""Backup and restore of the whole database: SQLite's online backup API, or pg_dump/pg_restore."""

import glob
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import NullPool

from groupvisits.errors import GroupVisitsError

#: Tables that hold no clinic data: their rows do not make a database "not empty".
BOOKKEEPING_TABLES = {"alembic_version"}
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
#: Where Debian and Ubuntu install the PostgreSQL client programs, one folder per version.
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


class BackupError(GroupVisitsError):
    """A backup or restore could not be done; the message says why."""


class TargetNotEmpty(BackupError):
    """The database to restore into already holds data."""


def backup_database(engine_url: str | URL, path: str | Path) -> dict[str, int]:
    """Write a consistent copy of the database at ``engine_url`` to ``path``.

    :returns: the row count of every table, as it is in the backup.
    :raises BackupError: the database kind is unsupported or the copy failed.
    """
    url = make_url(engine_url)
    path = Path(path)
    if not path.parent.is_dir():
        raise BackupError(f"The folder {path.parent} does not exist.")
    if path.is_dir():
        raise BackupError(f"{path} is a folder; give the path of the backup file.")
    if url.get_backend_name() == "sqlite":
        return _backup_sqlite(_sqlite_path(url), path)
    if url.get_backend_name() == "postgresql":
        return _backup_postgresql(url, path)
    raise BackupError(f"Backups of {url.get_backend_name()} databases are not supported.")


def restore_database(
    engine_url: str | URL, path: str | Path, *, replace: bool = False
) -> dict[str, int]:
    """Replace the database at ``engine_url`` with the backup at ``path``.

    :param replace: restore even if the database already holds data (which is lost).
    :returns: the row count of every table after the restore.
    :raises TargetNotEmpty: the database holds data and ``replace`` is false.
    :raises BackupError: the file is missing or unreadable, or the restore failed.
    """
    url = make_url(engine_url)
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"No backup file at {path}.")
    if url.get_backend_name() == "sqlite":
        return _restore_sqlite(path, _sqlite_path(url), replace=replace)
    if url.get_backend_name() == "postgresql":
        return _restore_postgresql(path, url, replace=replace)
    raise BackupError(f"Restores into {url.get_backend_name()} databases are not supported.")


def _not_empty_message(counts: dict[str, int]) -> str:
    filled = sum(1 for table, rows in counts.items() if rows and table not in BOOKKEEPING_TABLES)
    return (
        f"The database is not empty ({filled} tables hold rows); restoring replaces "
        "everything in it. Run again with --yes to restore anyway."
    )


def _has_data(counts: dict[str, int]) -> bool:
    return any(rows for table, rows in counts.items() if table not in BOOKKEEPING_TABLES)


def _file_starts_with(path: Path, magic: bytes) -> bool:
    with path.open("rb") as file:
        return file.read(len(magic)) == magic


def _temporary_beside(path: Path) -> Path:
    """A new empty file in the folder of ``path``, so that a rename onto it is atomic."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    return Path(name)


# SQLite


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("Only a SQLite database in a file can be backed up or restored.")
    return Path(url.database)


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = [
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        name: connection.execute(
            f'SELECT count(*) FROM "{name.replace(chr(34), chr(34) * 2)}"'
        ).fetchone()[0]
        for name in names
    }


def _backup_sqlite(database: Path, path: Path) -> dict[str, int]:
    if not database.is_file():
        raise BackupError(f"No SQLite database at {database}.")
    partial = _temporary_beside(path)
    try:
        source = sqlite3.connect(database, timeout=30)
        with closing(source), closing(sqlite3.connect(partial)) as copy:
            # One step: the copy is a snapshot even while the app keeps writing.
            source.backup(copy)
            # A self-contained file: no -wal or -shm companion needed to read it.
            copy.execute("PRAGMA journal_mode=DELETE")
            counts = _sqlite_counts(copy)
        partial.replace(path)
    except sqlite3.Error as exc:
        raise BackupError(f"The backup of {database} failed: {exc}.") from exc
    finally:
        partial.unlink(missing_ok=True)
    return counts


def _restore_sqlite(path: Path, database: Path, *, replace: bool) -> dict[str, int]:
    if not _file_starts_with(path, SQLITE_MAGIC):
        raise BackupError(f"{path} is not a SQLite backup.")
    if not database.parent.is_dir():
        raise BackupError(f"The folder {database.parent} does not exist.")
    try:
        source = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        with closing(source), closing(sqlite3.connect(database, timeout=30)) as target:
            if not _sqlite_counts(source):
                raise BackupError(f"{path} holds no tables.")
            current = _sqlite_counts(target)
            if _has_data(current) and not replace:
                raise TargetNotEmpty(_not_empty_message(current))
            # Replaces every page of the target, schema included, in one locked step.
            source.backup(target)
            return _sqlite_counts(target)
    except sqlite3.Error as exc:
        raise BackupError(f"The restore from {path} failed: {exc}.") from exc


# PostgreSQL


def _postgres_program(name: str) -> str:
    """The path of a PostgreSQL client program: on PATH, else the newest Debian install."""
    found = shutil.which(name)
    if found:
        return found

    def version(folder: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", Path(folder).parent.name))

    for folder in sorted(glob.glob(POSTGRES_BIN_GLOB), key=version, reverse=True):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise BackupError(
        f"{name} was not found on PATH or under {POSTGRES_BIN_GLOB}; "
        "install the PostgreSQL client programs (Debian: apt-get install postgresql-client)."
    )


def _postgres_arguments(url: URL) -> tuple[list[str], dict[str, str]]:
    """Command-line connection options and the environment (the password goes only there)."""
    if not url.database:
        raise BackupError("The database URL names no database.")
    arguments = ["--no-password", f"--dbname={url.database}"]
    host = url.host or url.query.get("host")
    if host:
        arguments.append(f"--host={host}")
    if url.port:
        arguments.append(f"--port={url.port}")
    if url.username:
        arguments.append(f"--username={url.username}")
    environment = dict(os.environ)
    environment.pop("PGPASSWORD", None)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    if "sslmode" in url.query:
        environment["PGSSLMODE"] = str(url.query["sslmode"])
    return arguments, environment


def _run(program: str, arguments: list[str], environment: dict[str, str], what: str) -> None:
    try:
        finished = subprocess.run(
            [_postgres_program(program), *arguments],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise BackupError(f"{program} could not be started: {exc}.") from exc
    if finished.returncode != 0:
        detail = finished.stderr.strip() or f"{program} exited with status {finished.returncode}"
        raise BackupError(f"{what} failed: {detail}")


def _postgres_engine(url: URL):
    return create_engine(url, poolclass=NullPool)


def _postgres_counts(connection: Connection) -> dict[str, int]:
    names = sorted(inspect(connection).get_table_names())
    preparer = connection.dialect.identifier_preparer
    return {
        name: connection.scalar(text(f"SELECT count(*) FROM {preparer.quote(name)}"))
        for name in names
    }


def _backup_postgresql(url: URL, path: Path) -> dict[str, int]:
    arguments, environment = _postgres_arguments(url)
    program = _postgres_program("pg_dump")
    partial = _temporary_beside(path)
    engine = _postgres_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            # pg_dump reads the very snapshot the counts come from, so they describe the file.
            snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
            counts = _postgres_counts(connection)
            _run(
                program,
                [
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={partial}",
                    *arguments,
                ],
                environment,
                "pg_dump",
            )
            connection.rollback()
        partial.replace(path)
    except BackupError:
        raise
    except Exception as exc:  # the driver's errors: refused connection, bad password...
        raise BackupError(f"The backup of {url.database} failed: {_first_line(exc)}") from exc
    finally:
        partial.unlink(missing_ok=True)
        engine.dispose()
    return counts


def _restore_postgresql(path: Path, url: URL, *, replace: bool) -> dict[str, int]:
    if not _file_starts_with(path, PG_DUMP_MAGIC):
        raise BackupError(f"{path} is not a PostgreSQL backup (pg_dump --format=custom).")
    arguments, environment = _postgres_arguments(url)
    program = _postgres_program("pg_restore")
    engine = _postgres_engine(url)
    try:
        with engine.connect() as connection:
            current = _postgres_counts(connection)
        if _has_data(current) and not replace:
            raise TargetNotEmpty(_not_empty_message(current))
        _run(
            program,
            [
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                *arguments,
                str(path),
            ],
            environment,
            "pg_restore",
        )
        with engine.connect() as connection:
            return _postgres_counts(connection)
    except BackupError:
        raise
    except Exception as exc:
        raise BackupError(f"The restore into {url.database} failed: {_first_line(exc)}") from exc
    finally:
        engine.dispose()


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
