"""Rules for clinic sites."""

from sqlalchemy import select, update

from groupvisits.accounts.models import User
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VIRTUAL, VisitGroup
from groupvisits.localtime import DEFAULT_LOCALE, LOCALES
from groupvisits.permissions import can_manage_site
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import KILOGRAMS, WEIGHT_UNITS, Site, clean_phone
from groupvisits.timeutil import is_valid_timezone, utcnow


def _check(name: str, timezone: str, site: Site | None = None) -> None:
    if not is_valid_timezone(timezone):
        raise ValidationFailed(f"Unknown time zone {timezone!r}.", field="timezone")
    clash = db.session.scalar(select(Site).where(Site.name == name.strip()))
    if clash is not None and clash is not site:
        raise Conflict(f"There is already a site called {name.strip()}.", field="name")


def _settings(phone: str, weight_unit: str, locale: str) -> dict[str, str]:
    """The phone number as stored, the weight unit and the locale, each checked."""
    try:
        phone = clean_phone(phone)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="phone") from exc
    if weight_unit not in WEIGHT_UNITS:
        raise ValidationFailed("Choose kilograms or pounds.", field="weight_unit")
    if locale not in LOCALES:
        raise ValidationFailed("Choose a language and region from the list.", field="locale")
    return {"phone": phone, "weight_unit": weight_unit, "locale": locale}


def create_site(
    name: str,
    timezone: str,
    address: str = "",
    *,
    phone: str = "",
    weight_unit: str = KILOGRAMS,
    locale: str = DEFAULT_LOCALE,
    actor: User | None,
) -> Site:
    """Create a site; the coordinator who creates it serves it.

    :raises NotAllowed: the actor is not a coordinator.
    :raises ValidationFailed: an unknown zone, a phone number that cannot be dialled, or an
        unknown weight unit or locale.
    """
    if actor is not None and not actor.is_coordinator:
        raise NotAllowed("Only coordinators create sites.")
    _check(name, timezone)
    settings = _settings(phone, weight_unit, locale)
    site = Site(name=name.strip(), timezone=timezone, address=address.strip(), **settings)
    db.session.add(site)
    if actor is not None:
        actor.sites.append(site)
    db.session.flush()
    return site


def update_site(
    site: Site,
    *,
    name: str,
    timezone: str,
    address: str,
    phone: str | None = None,
    weight_unit: str | None = None,
    locale: str | None = None,
    actor: User,
) -> Site:
    """Change a site's name, zone, address, phone, weight unit or locale (None: keep it)."""
    if not can_manage_site(actor, site):
        raise NotAllowed("Only coordinators of this site can change it.")
    _check(name, timezone, site)
    settings = _settings(
        site.phone if phone is None else phone,
        weight_unit or site.weight_unit,
        locale or site.locale,
    )
    place_before = (site.name, site.address_line)
    site.name, site.timezone, site.address = name.strip(), timezone, address.strip()
    for key, value in settings.items():
        setattr(site, key, value)
    if (site.name, site.address_line) != place_before:
        _announce_new_place(site)
    db.session.flush()
    return site


def _announce_new_place(site: Site) -> None:
    """Raise the SEQUENCE of the coming sessions that meet at the site (LOCATION names it)."""
    # Calendar programs take a changed event only with a higher SEQUENCE.
    at_the_site = select(VisitGroup.id).where(
        VisitGroup.site_id == site.id, VisitGroup.modality != VIRTUAL
    )
    db.session.execute(
        update(GroupSession)
        .where(GroupSession.group_id.in_(at_the_site), GroupSession.starts_at > utcnow())
        .values(sequence=GroupSession.sequence + 1, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
