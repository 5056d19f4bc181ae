"""Words typed to find a patient stay out of addresses and out of the browser.

A name, an email or a record number typed into a search box is patient data.
In a query string it would be written to server and proxy logs, browser
history and Referer headers; in the session cookie anyone at the browser
could read it. So search forms post their words, and the words are kept on
the server with the sign-in, by page, until the page shows them. They go
when the sign-in ends (sign-out, idle time, password change, deactivation).

A search to act on (find a patient to enrol) is shown once: :func:`take`
reads and forgets it, and the action that follows keeps it again. A search
that filters a list (the people list) stays until it is cleared: :func:`kept`.
Callers commit, as with every other change.
"""

from flask_login import current_user

MAX_LENGTH = 100
#: Searches kept at once (one per page); the oldest goes first.
MAX_KEPT = 8


def _searches() -> dict[str, str]:
    return dict(current_user.current_sign_in.searches or {})


def _store(searches: dict[str, str]) -> None:
    # A new dict each time: the JSON column notices assignment, not changes in place.
    current_user.current_sign_in.searches = dict(list(searches.items())[-MAX_KEPT:]) or None


def keep(page_key: str, words: str | None) -> str:
    """Remember ``words`` (spaces folded, at most 100 characters) for one page."""
    words = " ".join((words or "").split())[:MAX_LENGTH]
    searches = _searches()
    searches.pop(page_key, None)
    if words:
        searches[page_key] = words
    _store(searches)
    return words


def kept(page_key: str) -> str:
    """The words last searched for on this page, or ""."""
    return _searches().get(page_key, "")


def take(page_key: str) -> str:
    """The words last searched for on this page, forgotten as they are read."""
    searches = _searches()
    if page_key not in searches:
        return ""
    words = searches.pop(page_key)
    _store(searches)
    return words
