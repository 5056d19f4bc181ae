"""Routes (filled in below)."""

from groupvisits.encounters import bp  # noqa: F401
