"""Routes of one-on-one visits: the session's slots and planner, notes, summaries and logs.

Each part lives in its own module, imported here so that create_app registers them all.
"""

from groupvisits.encounters import (  # noqa: F401 (the modules attach their routes)
    bp,
    note_views,
    record_views,
    slot_views,
)

__all__ = ["bp"]
