"""Rules for clinic sites."""

from sqlalchemy import select

from groupvisits.accounts.models import User
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.permissions import can_manage_site
from groupvisits.sites.models import Site
from groupvisits.timeutil import is_valid_timezone


def _check(name: str, timezone: str, site: Site | None = None) -> None:
    if not is_valid_timezone(timezone):
        raise ValidationFailed(f"Unknown time zone {timezone!r}.")
    clash = db.session.scalar(select(Site).where(Site.name == name.strip()))
    if clash is not None and clash is not site:
        raise Conflict(f"There is already a site called {name.strip()}.")


def create_site(name: str, timezone: str, address: str = "", *, actor: User | None) -> Site:
    """Create a site; the coordinator who creates it serves it.

    :raises NotAllowed: the actor is not a coordinator.
    """
    if actor is not None and not actor.is_coordinator:
        raise NotAllowed("Only coordinators create sites.")
    _check(name, timezone)
    site = Site(name=name.strip(), timezone=timezone, address=address.strip())
    db.session.add(site)
    if actor is not None:
        actor.sites.append(site)
    db.session.flush()
    return site


def update_site(site: Site, *, name: str, timezone: str, address: str, actor: User) -> Site:
    """Rename a site, move its time zone or change its address."""
    if not can_manage_site(actor, site):
        raise NotAllowed("Only coordinators of this site can change it.")
    _check(name, timezone, site)
    site.name, site.timezone, site.address = name.strip(), timezone, address.strip()
    db.session.flush()
    return site
