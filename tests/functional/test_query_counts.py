"""No main page's query count grows with the data: the same on the demo and on network size."""

import pytest
from sqlalchemy import event

from benchmarks.pages import busiest_group, main_pages
from groupvisits.accounts.models import User
from groupvisits.demo_scale import load_large
from tests.conftest import FormClient


def signed_in(app, email: str) -> FormClient:
    client = app.test_client()
    if email:
        response = client.post_form("/login", {"email": email, "password": "demo-password-1"})
        assert response.status_code == 302
    return client


def query_counts(app, db, group) -> dict[str, int]:
    counts = {}
    clients: dict[str, FormClient] = {}
    for page in main_pages(group):
        client = clients.get(page.user) or clients.setdefault(page.user, signed_in(app, page.user))
        client.get(page.url)  # first visit: one-off work such as creating a feed address
        statements = []

        def count(*args, statements=statements):
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            response = client.get(page.url)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert response.status_code == 200, page
        counts[page.name] = len(statements)
    return counts


@pytest.mark.slow
def test_query_counts_of_main_pages_do_not_grow_with_the_data(app, db, runner):
    result = runner.invoke(args=["groupvisits", "seed-demo"])
    assert result.exit_code == 0, result.output
    group = busiest_group()
    small = query_counts(app, db, group)

    coordinator = db.session.scalar(
        db.select(User).where(User.email == "coordinator@riverside.example.org")
    )
    load_large(password_hash=coordinator.password_hash)
    db.session.commit()
    large = query_counts(app, db, group)

    assert large == small
    assert max(small.values()) <= 25
