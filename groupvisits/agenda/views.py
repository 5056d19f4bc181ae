"""Routes of the patients' agenda: a group's topics and votes, and each session's agenda.

Each part lives in its own module, imported here so that create_app registers them all.
"""

from groupvisits.agenda import (  # noqa: F401 (the modules attach their routes)
    agenda_views,
    bp,
    topic_views,
)

__all__ = ["bp"]
