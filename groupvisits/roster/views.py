"""Routes for rosters, RSVPs and check-in."""

from groupvisits.roster import bp  # noqa: F401
