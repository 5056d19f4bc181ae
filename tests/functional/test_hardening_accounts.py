"""Behind a reverse proxy: each client is known by its own address, and only a trusted proxy
may say which address that is."""

import pytest
from sqlalchemy import select

from groupvisits import create_app
from groupvisits.accounts.models import SignIn
from groupvisits.audit import AuditEvent
from groupvisits.extensions import db as _db
from groupvisits.extensions import limiter
from tests.conftest import DEFAULT_PASSWORD, FormClient

NO_MATCH = "That email and password do not match an account."


@pytest.fixture
def behind_proxy(app, database_url):
    """The app as deployed: one trusted reverse proxy in front, a low limit per address."""
    proxied = create_app(
        {
            "CONFIG": "testing",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TRUSTED_PROXY_COUNT": 1,
            "LOGIN_LIMIT_PER_ADDRESS": "3 per 15 minutes",
        }
    )
    proxied.test_client_class = FormClient
    limiter.reset()
    yield proxied
    with proxied.app_context():
        _db.engine.dispose()
    limiter.reset()


def browser_at(app, address: str) -> FormClient:
    """A browser whose requests the proxy forwards as coming from ``address``."""
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = address
    return client


def attempt(client, email: str, password: str):
    return client.post_form("/login", {"email": email, "password": password})


def sign_in_rows(db, user) -> list[SignIn]:
    db.session.rollback()
    return list(db.session.scalars(select(SignIn).where(SignIn.user_id == user.id)))


def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(behind_proxy, patient):
    guesser = browser_at(behind_proxy, "203.0.113.9")
    for n in range(3):
        assert attempt(guesser, f"guess{n}@clinic.example.org", "a guess").status_code == 422
    assert attempt(guesser, f"guess{n}@clinic.example.org", "a guess").status_code == 429

    neighbour = browser_at(behind_proxy, "198.51.100.7")
    answer = attempt(neighbour, "someone@clinic.example.org", "a typo")

    assert answer.status_code == 422
    assert NO_MATCH in answer.get_data(as_text=True)
    assert attempt(neighbour, patient.email, DEFAULT_PASSWORD).status_code == 302


def test_behind_a_trusted_proxy_sign_ins_and_audit_rows_keep_the_client_address(
    behind_proxy, db, coordinator, patient
):
    browser = browser_at(behind_proxy, "198.51.100.7")
    assert attempt(browser, coordinator.email, DEFAULT_PASSWORD).status_code == 302

    assert browser.get(f"/people/{patient.id}").status_code == 200

    [row] = sign_in_rows(db, coordinator)
    assert row.ip_address == "198.51.100.7"
    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.actor_id == coordinator.id)
    ).all()
    assert (event.action, event.patient_id, event.ip_address) == (
        "view",
        patient.id,
        "198.51.100.7",
    )


def test_only_the_address_the_trusted_proxy_added_counts(behind_proxy, db, patient):
    # The client's own X-Forwarded-For comes first; the proxy appends the address it saw.
    browser = browser_at(behind_proxy, "10.0.0.1, 198.51.100.7")

    assert attempt(browser, patient.email, DEFAULT_PASSWORD).status_code == 302

    [row] = sign_in_rows(db, patient)
    assert row.ip_address == "198.51.100.7"


def test_behind_a_trusted_proxy_forms_still_post_over_https(behind_proxy, patient):
    # Pages send no Referer (Referrer-Policy: no-referrer); believing the proxy's
    # X-Forwarded-Proto would make the CSRF check demand one on every form.
    browser = browser_at(behind_proxy, "198.51.100.7")
    browser.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"

    assert attempt(browser, patient.email, DEFAULT_PASSWORD).status_code == 302


def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(app, db, patient):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "3 per 15 minutes"
    for n in range(3):
        spoofer = browser_at(app, f"203.0.113.{n}")
        assert attempt(spoofer, f"guess{n}@clinic.example.org", "a guess").status_code == 422

    spoofer = browser_at(app, "203.0.113.99")
    assert attempt(spoofer, patient.email, DEFAULT_PASSWORD).status_code == 429

    limiter.reset()
    assert (
        attempt(browser_at(app, "203.0.113.99"), patient.email, DEFAULT_PASSWORD).status_code == 302
    )
    [row] = sign_in_rows(db, patient)
    assert row.ip_address == "127.0.0.1"
