"""Migrations build the same schema as the models, and undo cleanly."""

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text


def table_names(db) -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_upgrade_downgrade_upgrade_leaves_no_drift(app, db, runner):
    model_tables = {table.name for table in db.metadata.sorted_tables}
    db.session.remove()
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))

    flask_migrate.upgrade()
    assert model_tables <= table_names(db)

    flask_migrate.downgrade(revision="base")
    assert table_names(db) - {"alembic_version"} == set()

    flask_migrate.upgrade()
    assert model_tables <= table_names(db)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []

    # `flask db check` exits non-zero when models and migrations drift apart.
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_revision_files_are_date_prefixed_and_reversible():
    from pathlib import Path

    versions = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    files = sorted(versions.glob("*.py"))
    assert files
    for path in files:
        assert path.name[:8].isdigit() and path.name[8] == "_", path.name
        source = path.read_text()
        assert "def downgrade():" in source
        body = source.split("def downgrade():", 1)[1]
        assert "op." in body, f"{path.name} has an empty downgrade"


def test_feeds_made_before_tokens_were_hashed_still_answer_after_the_upgrade(app, db):
    """The upgrade keeps only a hash of each feed's token; the old address still works."""
    from groupvisits.schedule.feeds import feed_for_token, feed_urls

    db.session.remove()
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    flask_migrate.upgrade(revision="2ccb22f2e75f")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, role, given_name, family_name, preferred_name,"
                " phone, active, security_stamp, created_at) VALUES (1, 'p@example.org',"
                " 'patient', 'Pat', 'Ient', '', '', TRUE, 'stamp', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO calendar_feeds (id, user_id, token, created_at)"
                " VALUES (1, 1, 'old-secret-token', CURRENT_TIMESTAMP)"
            )
        )

    flask_migrate.upgrade()

    with db.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM calendar_feeds")).mappings().one()
    assert "old-secret-token" not in [str(value) for value in row.values()]
    feed = feed_for_token("old-secret-token")
    assert feed is not None and feed.user_id == 1
    assert feed_urls(feed) is None  # cannot be shown again: the page offers a new address
    db.session.remove()

    flask_migrate.downgrade(revision="2ccb22f2e75f")
    with db.engine.connect() as connection:
        token, revoked_at = connection.execute(
            text("SELECT token, revoked_at FROM calendar_feeds")
        ).one()
    assert token != "old-secret-token" and revoked_at is not None
    flask_migrate.upgrade()
