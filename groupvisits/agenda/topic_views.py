"""Routes (filled in below)."""

from groupvisits.agenda import bp  # noqa: F401
