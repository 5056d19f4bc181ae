"""Words typed to find a patient stay out of addresses.

A name, an email or a record number typed into a search box is patient data.
In a query string it would be written to server and proxy logs, browser
history and Referer headers. So search forms post their words; the words are
kept in the person's session under the page's key, the page reads them back
after the redirect, and they are forgotten at sign-in and sign-out.

A search to act on (find a patient to enrol) is shown once: :func:`take`
reads and forgets it, and the action that follows keeps it again. A search
that filters a list (the people list) stays until it is cleared: :func:`kept`.
"""

from flask import session

SESSION_KEY = "searches"
MAX_LENGTH = 100
#: Searches kept at once (one per page); the oldest goes first.
MAX_KEPT = 8


def keep(page_key: str, words: str | None) -> str:
    """Remember ``words`` (spaces folded, at most 100 characters) for one page."""
    words = " ".join((words or "").split())[:MAX_LENGTH]
    searches = dict(session.get(SESSION_KEY, {}))
    searches.pop(page_key, None)
    if words:
        searches[page_key] = words
    session[SESSION_KEY] = dict(list(searches.items())[-MAX_KEPT:])
    return words


def kept(page_key: str) -> str:
    """The words last searched for on this page, or ""."""
    return session.get(SESSION_KEY, {}).get(page_key, "")


def take(page_key: str) -> str:
    """The words last searched for on this page, forgotten as they are read."""
    searches = session.get(SESSION_KEY, {})
    if page_key not in searches:
        return ""
    searches = dict(searches)
    words = searches.pop(page_key)
    session[SESSION_KEY] = searches
    return words


def forget_all() -> None:
    session.pop(SESSION_KEY, None)
