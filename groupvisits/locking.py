"""Serialise competing writes: row locks on PostgreSQL, BEGIN IMMEDIATE on SQLite.

A check in Python alone is a race: two requests pass it together. Bookings
therefore lock first, then count, then write, all in one transaction.
"""

from sqlalchemy import select

from groupvisits.extensions import db


def hold_sqlite_for_writing(connection) -> None:
    """On SQLite, take the database for writing now (``BEGIN IMMEDIATE``), unless held already.

    SQLite has no row locks; a transaction that reads and then writes must
    hold the write lock before it reads. Other databases lock rows instead.
    """
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def lock_row(model, row_id: int):
    """Lock one row for the rest of the transaction and return it, fresh.

    On PostgreSQL this is ``SELECT ... FOR UPDATE``. SQLite has no row locks:
    the whole database is taken for writing with ``BEGIN IMMEDIATE`` (or is
    already held, if this transaction has written before), so the counts read
    next cannot change until commit.
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        hold_sqlite_for_writing(connection)
        return db.session.scalars(
            select(model).where(model.id == row_id).execution_options(populate_existing=True)
        ).one()
    return db.session.scalars(
        select(model)
        .where(model.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
