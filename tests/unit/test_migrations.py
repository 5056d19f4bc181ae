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


OLD_ROWS = [
    "INSERT INTO sites (id, name, timezone, address, created_at)"
    " VALUES (1, 'Eastside', 'America/New_York', '', CURRENT_TIMESTAMP)",
    "INSERT INTO users (id, email, role, given_name, family_name, preferred_name, phone, active,"
    " security_stamp, created_at) VALUES (1, 'p@example.org', 'patient', 'Pat', 'Ient', '', '',"
    " TRUE, 'stamp', CURRENT_TIMESTAMP)",
    "INSERT INTO patient_profiles (user_id, preferred_language, dietary_needs,"
    " accessibility_needs) VALUES (1, 'English', 'Low salt; no nuts', '')",
    "INSERT INTO sign_ins (id, user_id, token_hash, created_at, last_seen_at, ip_address,"
    " user_agent) VALUES (1, 1, 'abc', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '', '')",
    "INSERT INTO calendar_feeds (id, user_id, token, created_at)"
    " VALUES (1, 1, 'old-secret-token', CURRENT_TIMESTAMP)",
    "INSERT INTO visit_groups (id, site_id, name, calendar_name, focus, description, modality,"
    " location, video_url, length_minutes, min_members, target_members, max_members,"
    " census_warning_days, status, recurrence_rule, created_at, updated_at) VALUES (1, 1,"
    " 'Evening group', 'Group visit', '', '', 'in_person', 'Room 2', '', 120, 8, 12, 15, 14,"
    " 'active', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO memberships (id, group_id, patient_id, status, end_reason, request_message,"
    " reply_message, share_name, created_at, updated_at) VALUES (1, 1, 1, 'active', '', '', '',"
    " TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO membership_events (id, membership_id, occurred_at, kind, note)"
    " VALUES (1, 1, CURRENT_TIMESTAMP, 'enrolled', '')",
    "INSERT INTO group_sessions (id, group_id, starts_at, ends_at, status, cancel_reason, edited,"
    " is_extra, location, video_url, theme, notes, sequence, created_at, updated_at) VALUES"
    " (1, 1, '2026-01-13 22:00:00+00:00', '2026-01-14 00:00:00+00:00', 'scheduled', '', FALSE,"
    " FALSE, '', '', '', '', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO attendances (id, session_id, patient_id, membership_id, is_drop_in,"
    " brings_support_person, check_in, weight_kg, updated_at) VALUES (1, 1, 1, 1, FALSE, FALSE,"
    " 'arrived', 81.6, CURRENT_TIMESTAMP)",
]


def test_the_upgrade_keeps_every_row_and_maps_what_changed_meaning(app, db):
    """Tables rebuilt by the upgrade keep their rows and the rows pointing at them."""
    from groupvisits.schedule.feeds import feed_for_token, feed_urls

    db.session.remove()
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    flask_migrate.upgrade(revision="2ccb22f2e75f")
    with db.engine.begin() as connection:
        for statement in OLD_ROWS:
            connection.execute(text(statement))

    flask_migrate.upgrade()

    with db.engine.connect() as connection:
        feed = connection.execute(text("SELECT * FROM calendar_feeds")).mappings().one()
        assert "old-secret-token" not in [str(value) for value in feed.values()]
        for table in ("sign_ins", "membership_events", "attendances", "memberships"):
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1
        membership_id, weight = connection.execute(
            text("SELECT membership_id, weight_kg FROM attendances")
        ).one()
        assert (membership_id, float(weight)) == (1, 81.6)
        # A stored "yes" was the default, never asked: the member will be.
        assert connection.execute(text("SELECT share_name FROM memberships")).scalar() is None
        diet = connection.execute(
            text("SELECT dietary_needs, dietary_other FROM patient_profiles")
        ).one()
        assert tuple(diet) == ("low_sodium", "no nuts")
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
        assert connection.execute(text("SELECT dietary_needs FROM patient_profiles")).scalar() == (
            "low sodium, no nuts"
        )
        for table in ("sign_ins", "membership_events", "attendances", "memberships"):
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1
    flask_migrate.upgrade()
