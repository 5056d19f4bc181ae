"""CSRF on every change, security headers and cookies, friendly error pages, no other hosts."""

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from groupvisits import create_app
from groupvisits.accounts.models import SignIn, User
from tests.conftest import DEFAULT_PASSWORD, FormClient

FORM_EXPIRED = "Your form expired. Please go back, reload the page and try again."
#: Sources a Content-Security-Policy may allow without naming another host.
OWN_SOURCES = {"'self'", "'none'", "data:"}


def open_sign_ins(db, user) -> list[SignIn]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(SignIn).where(SignIn.user_id == user.id, SignIn.ended_at.is_(None))
        )
    )


def is_sent_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/login"


def session_cookie_header(response) -> str:
    [header] = [
        value for value in response.headers.getlist("Set-Cookie") if value.startswith("gv_session=")
    ]
    return header


def cookie_attributes(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


# CSRF


def test_sign_in_without_csrf_token_is_refused(client, db, patient):
    response = client.post("/login", data={"email": patient.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 400
    assert FORM_EXPIRED in response.get_data(as_text=True)
    assert open_sign_ins(db, patient) == []
    assert is_sent_to_login(client.get("/account/password"))


def test_sign_out_without_csrf_token_is_refused(patient_client, db, patient):
    response = patient_client.post("/logout")

    assert response.status_code == 400
    assert FORM_EXPIRED in response.get_data(as_text=True)
    assert len(open_sign_ins(db, patient)) == 1
    assert patient_client.get("/account/password").status_code == 200


def test_sign_out_with_a_wrong_csrf_token_is_refused(patient_client, db, patient):
    response = patient_client.post("/logout", data={"csrf_token": "forged"})

    assert response.status_code == 400
    assert len(open_sign_ins(db, patient)) == 1


def test_adding_a_person_without_csrf_token_is_refused(coordinator_client, db, site):
    response = coordinator_client.post(
        "/people/new",
        data={
            "role": "patient",
            "given_name": "Rosa",
            "family_name": "Diaz",
            "email": "rosa.diaz@mail.example.org",
            "sites": [site.id],
        },
    )

    assert response.status_code == 400
    assert FORM_EXPIRED in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(User).where(User.email == "rosa.diaz@mail.example.org")) is None


def test_patient_profile_change_without_csrf_token_is_refused(patient_client, db, patient):
    response = patient_client.post(
        "/profile",
        data={"preferred_name": "Patsy", "phone": "555-0100", "dietary_needs": "none"},
    )

    assert response.status_code == 400
    assert FORM_EXPIRED in response.get_data(as_text=True)
    db.session.rollback()
    stored = db.session.get(User, patient.id)
    assert stored.preferred_name == ""
    assert stored.phone == ""
    assert stored.patient_profile.dietary_needs == "vegetarian"


def test_patient_profile_change_with_csrf_token_is_saved(patient_client, db, patient):
    """The same change as above goes through with the token: the refusal is the token's."""
    response = patient_client.post_form(
        "/profile",
        {"preferred_name": "Patsy", "phone": "555-0100", "dietary_needs": "none"},
    )

    assert response.status_code == 302
    db.session.rollback()
    assert db.session.get(User, patient.id).preferred_name == "Patsy"


# Security headers


@pytest.fixture
def responses(client, coordinator_client, patient_client):
    """One response of each kind a browser meets."""
    return {
        "page": coordinator_client.get("/people/"),
        "login page": client.get("/login"),
        "not found": client.get("/no-such-page"),
        "static file": client.get("/static/groupvisits.css"),
        "forbidden": patient_client.get("/people/"),
    }


def test_every_kind_of_response_has_the_expected_status(responses):
    statuses = {kind: response.status_code for kind, response in responses.items()}

    assert statuses == {
        "page": 200,
        "login page": 200,
        "not found": 404,
        "static file": 200,
        "forbidden": 403,
    }


def test_every_response_carries_a_policy_that_names_no_other_host(responses):
    for kind, response in responses.items():
        policy = response.headers.get("Content-Security-Policy", "")
        directives = {
            name: sources
            for name, *sources in (part.split() for part in policy.split(";") if part.strip())
        }
        assert directives.get("default-src") == ["'self'"], kind
        for name, sources in directives.items():
            assert set(sources) <= OWN_SOURCES, (kind, name, sources)
        assert directives.get("frame-ancestors") == ["'none'"], kind


def test_every_response_carries_the_security_headers(responses):
    for kind, response in responses.items():
        headers = response.headers
        assert headers.get("X-Content-Type-Options") == "nosniff", kind
        assert headers.get("X-Frame-Options") == "DENY", kind
        assert headers.get("Referrer-Policy"), kind


def test_pages_are_never_cached_but_static_files_may_be(responses):
    for kind, response in responses.items():
        cache_control = response.headers.get("Cache-Control", "")
        if kind == "static file":
            assert "no-store" not in cache_control
        else:
            assert "no-store" in cache_control, kind


# Cookies


def test_session_cookie_set_at_sign_in_is_httponly_lax_and_secure(client, patient):
    response = client.post_form("/login", {"email": patient.email, "password": DEFAULT_PASSWORD})

    header = session_cookie_header(response)
    assert {"httponly", "secure", "samesite"} <= cookie_attributes(header)
    assert "samesite=lax" in header.lower()


def test_development_sends_the_session_cookie_over_plain_http(database_url, app, patient):
    development = create_app({"CONFIG": "development", "SQLALCHEMY_DATABASE_URI": database_url})
    development.test_client_class = FormClient
    assert development.config["SESSION_COOKIE_SECURE"] is False

    response = development.test_client().post_form(
        "/login", {"email": patient.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 302
    header = session_cookie_header(response)
    assert "httponly" in cookie_attributes(header)
    assert "secure" not in cookie_attributes(header)


# Error pages


def test_unknown_page_gets_the_friendly_not_found_page(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page
    assert "Go to the home page" in page


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/no-such-page", 404),
        ("POST", "/no-such-page", 404),
        ("GET", "/people/999999", 404),
        ("GET", "/static/no-such-file.css", 404),
        ("GET", "/logout", 405),
        ("DELETE", "/login", 405),
    ],
)
def test_unknown_urls_never_show_the_framework_default_page(
    coordinator_client, method, url, status
):
    response = coordinator_client.open(url, method=method)

    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert "GroupVisits" in page
    assert "The requested URL was not found on the server" not in page
    assert "<title>404 Not Found</title>" not in page
    assert "The method is not allowed for the requested URL" not in page


# No other hosts


@pytest.mark.parametrize("who", ["visitor", "coordinator"])
def test_pages_load_and_link_nothing_from_another_host(client, coordinator_client, who):
    browser, url = (client, "/login") if who == "visitor" else (coordinator_client, "/")

    response = browser.get(url)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    addresses = re.findall(r'\b(?:src|href|action)\s*=\s*["\']([^"\']*)', page)
    assert addresses, "the page links nothing at all"
    for address in addresses:
        assert not address.startswith(("http://", "https://", "//")), address
    assert "http://" not in page
    assert "https://" not in page
