"""Searches and one-time messages kept with the sign-in.

Words typed to find a patient, and messages such as "Rosa Lopez is now a
member.", are patient data. They are kept on the server with the sign-in
(JSON: page key to words; a list of [category, text] pairs) and cleared when
the sign-in ends, instead of travelling in addresses or in the session
cookie, which is signed but not encrypted. Existing sign-ins start with none.

Revision ID: 2ccb22f2e75f
Revises: 7be18d4f7cc8
Created: 2026-11-26 06:42:04.496123
"""

import sqlalchemy as sa
from alembic import op

revision = "2ccb22f2e75f"
down_revision = "7be18d4f7cc8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sign_ins") as batch_op:
        batch_op.add_column(sa.Column("searches", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("messages", sa.JSON(none_as_null=True), nullable=True))


def downgrade():
    # SQLite drops columns by copying the table: batch mode does that.
    with op.batch_alter_table("sign_ins") as batch_op:
        batch_op.drop_column("messages")
        batch_op.drop_column("searches")
