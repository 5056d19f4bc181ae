"""People of a site and lapsed offers indexed.

user_sites is keyed by (user_id, site_id), which finds a person's sites but
not a site's people: the people list, the site page, the audit trail and the
coordinator's dashboard read every row of it. An index on (site_id, user_id)
lets them read only the site's rows. The lapsed-offer sweep asks for offered
memberships past their hold time; (status, offer_expires_at) answers it
without reading every membership.

Revision ID: 7be18d4f7cc8
Revises: b1f94b5ac1f8
Created: 2026-11-26 06:24:10.000000
"""

from alembic import op

revision = "7be18d4f7cc8"
down_revision = "b1f94b5ac1f8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_user_sites_site_id_user_id", "user_sites", ["site_id", "user_id"])
    op.create_index(
        "ix_memberships_status_offer_expires_at", "memberships", ["status", "offer_expires_at"]
    )


def downgrade():
    op.drop_index("ix_memberships_status_offer_expires_at", table_name="memberships")
    op.drop_index("ix_user_sites_site_id_user_id", table_name="user_sites")
