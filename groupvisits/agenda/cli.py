"""``flask groupvisits publish-agendas``: publish every agenda that is due (run it hourly or
daily). Registered on the house's command group by ``groupvisits/cli.py``."""

import click
from flask.cli import with_appcontext

from groupvisits.agenda import agenda_building
from groupvisits.extensions import db


@click.command("publish-agendas")
@with_appcontext
def publish_agendas() -> None:
    """Publish the agendas due: each group's sessions within its publishing days (safe to rerun)."""
    published = agenda_building.publish_due()
    db.session.commit()
    click.echo(f"Published {len(published)} agenda{'' if len(published) == 1 else 's'}.")
