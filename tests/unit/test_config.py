"""Configuration: production refuses weak secrets; argon2id hashing; locked-down cookies."""

import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from config import UNSAFE_SECRET_KEYS, Config, ProductionConfig, TestingConfig
from groupvisits import create_app
from groupvisits.accounts import passwords

PRODUCTION_DATABASE_URL = "postgresql+psycopg://groupvisits:secret@db.example.org/groupvisits"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def production_env(monkeypatch):
    """An environment fit for production: a random key and a database URL."""
    key = secrets.token_urlsafe(30)[:40]
    monkeypatch.setenv("SECRET_KEY", key)
    monkeypatch.setenv("DATABASE_URL", PRODUCTION_DATABASE_URL)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://groupvisits.clinic.example.org")
    return key


# Production refuses to start with an unsafe secret


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", PRODUCTION_DATABASE_URL)

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


@pytest.mark.parametrize("unsafe", sorted(UNSAFE_SECRET_KEYS | {"dev"}))
def test_production_refuses_a_known_development_key(monkeypatch, unsafe):
    monkeypatch.setenv("SECRET_KEY", unsafe)
    monkeypatch.setenv("DATABASE_URL", PRODUCTION_DATABASE_URL)

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_production_refuses_a_short_key(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(15))  # 30 characters
    monkeypatch.setenv("DATABASE_URL", PRODUCTION_DATABASE_URL)

    with pytest.raises(RuntimeError, match="at least 32 characters"):
        create_app(ProductionConfig)


def test_production_refuses_to_start_without_database_url(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(20))
    monkeypatch.delenv("DATABASE_URL", raising=False)

    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        create_app("production")


@pytest.mark.parametrize("base", ["", "http://groupvisits.clinic.example.org"])
def test_production_refuses_to_start_without_an_https_public_address(
    production_env, monkeypatch, base
):
    monkeypatch.setenv("PUBLIC_BASE_URL", base)

    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        create_app("production")


def test_production_starts_with_a_random_key_and_a_database(production_env):
    app = create_app("production")

    assert not app.debug
    assert not app.testing
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_production_app_uses_the_key_and_database_it_checked(production_env):
    app = create_app(ProductionConfig)

    assert app.config["SECRET_KEY"] == production_env
    assert app.config["SQLALCHEMY_DATABASE_URI"] == PRODUCTION_DATABASE_URL
    assert app.config["PUBLIC_BASE_URL"] == "https://groupvisits.clinic.example.org"


def test_production_warns_when_sign_in_throttling_is_per_worker(
    production_env, monkeypatch, caplog
):
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    with caplog.at_level("WARNING"):
        app = create_app("production")
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert any("RATELIMIT_STORAGE_URI" in record.getMessage() for record in caplog.records)


def test_development_and_testing_do_not_demand_a_secret(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    assert create_app("testing").config["TESTING"] is True
    assert create_app("development").config["DEBUG"] is True


# Password hashing


def test_base_config_uses_strong_argon2id_parameters():
    # At least OWASP's recommended minimum for argon2id: 19 MiB and 2 iterations.
    assert Config.PASSWORD_HASH_TIME_COST >= 2
    assert Config.PASSWORD_HASH_MEMORY_COST >= 19 * 1024
    assert Config.PASSWORD_HASH_PARALLELISM >= 1
    assert Config.PASSWORD_MIN_LENGTH >= 12
    assert ProductionConfig.PASSWORD_HASH_TIME_COST == Config.PASSWORD_HASH_TIME_COST
    assert ProductionConfig.PASSWORD_HASH_MEMORY_COST == Config.PASSWORD_HASH_MEMORY_COST


def test_hash_password_with_production_cost_is_argon2id(app):
    app.config.update(
        PASSWORD_HASH_TIME_COST=Config.PASSWORD_HASH_TIME_COST,
        PASSWORD_HASH_MEMORY_COST=Config.PASSWORD_HASH_MEMORY_COST,
        PASSWORD_HASH_PARALLELISM=Config.PASSWORD_HASH_PARALLELISM,
    )

    stored = passwords.hash_password("a long and private sentence")

    assert stored.startswith("$argon2id$")
    assert f"m={Config.PASSWORD_HASH_MEMORY_COST},t={Config.PASSWORD_HASH_TIME_COST}," in stored
    assert "a long and private sentence" not in stored
    assert passwords.verify_password(stored, "a long and private sentence")
    assert not passwords.needs_rehash(stored)


def test_hashing_the_same_password_twice_gives_different_hashes(app):
    assert passwords.hash_password("same password here") != passwords.hash_password(
        "same password here"
    )


def test_verify_password_accepts_the_right_password_only(app):
    stored = passwords.hash_password("correct horse battery")

    assert passwords.verify_password(stored, "correct horse battery") is True
    assert passwords.verify_password(stored, "correct horse batterY") is False
    assert passwords.verify_password(stored, "") is False


def test_verify_password_rejects_a_missing_or_broken_hash(app):
    assert passwords.verify_password(None, "correct horse battery") is False
    assert passwords.verify_password(None, "not-a-password") is False
    assert passwords.verify_password("not a hash at all", "correct horse battery") is False


def test_a_hash_with_cheaper_parameters_needs_rehash(app):
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("old password here")
    app.config.update(
        PASSWORD_HASH_TIME_COST=Config.PASSWORD_HASH_TIME_COST,
        PASSWORD_HASH_MEMORY_COST=Config.PASSWORD_HASH_MEMORY_COST,
        PASSWORD_HASH_PARALLELISM=Config.PASSWORD_HASH_PARALLELISM,
    )

    assert passwords.needs_rehash(cheap) is True
    assert passwords.verify_password(cheap, "old password here")


def test_testing_config_hashes_cheaply_but_still_with_argon2id(app):
    assert TestingConfig.PASSWORD_HASH_MEMORY_COST < Config.PASSWORD_HASH_MEMORY_COST
    assert passwords.hash_password("anything long enough").startswith("$argon2id$")


# Session cookies and sign-in lifetime


def test_session_cookies_are_http_only_same_site_and_secure():
    assert Config.SESSION_COOKIE_HTTPONLY is True
    assert Config.SESSION_COOKIE_SAMESITE == "Lax"
    assert Config.SESSION_COOKIE_SECURE is True
    assert Config.REMEMBER_COOKIE_SECURE is True
    assert ProductionConfig.SESSION_COOKIE_SECURE is True


def test_idle_timeout_defaults_to_fifteen_minutes():
    assert Config.IDLE_TIMEOUT == timedelta(minutes=15)
    assert Config.IDLE_TIMEOUT < Config.PERMANENT_SESSION_LIFETIME


def test_the_sign_in_cookie_is_sent_with_its_protections(client, patient):
    response = client.post_form(
        "/login", {"email": patient.email, "password": "correct horse battery"}
    )

    assert response.status_code == 302
    cookie = next(
        header
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith("gv_session=")
    )
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=Lax" in cookie


# Reverse proxies


def test_development_and_testing_trust_no_forwarded_address(monkeypatch):
    monkeypatch.delenv("TRUSTED_PROXY_COUNT", raising=False)

    assert create_app("testing").config["TRUSTED_PROXY_COUNT"] == 0
    assert create_app("development").config["TRUSTED_PROXY_COUNT"] == 0


def test_production_trusts_one_proxy_unless_told_otherwise(production_env, monkeypatch):
    monkeypatch.delenv("TRUSTED_PROXY_COUNT", raising=False)
    assert create_app("production").config["TRUSTED_PROXY_COUNT"] == 1

    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "2")
    assert create_app("production").config["TRUSTED_PROXY_COUNT"] == 2

    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "0")
    assert create_app("production").config["TRUSTED_PROXY_COUNT"] == 0


@pytest.mark.parametrize("count", ["-1", "one", ""])
def test_production_refuses_a_proxy_count_that_is_not_a_number(production_env, monkeypatch, count):
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", count)

    with pytest.raises(RuntimeError, match="TRUSTED_PROXY_COUNT"):
        create_app("production")


# The WSGI entry point


def import_wsgi(**environ) -> subprocess.CompletedProcess:
    """Import ``wsgi`` in a fresh interpreter with nothing but ``environ`` (and PATH) set."""
    return subprocess.run(
        [sys.executable, "-c", "import wsgi; print('debug' if wsgi.app.debug else 'no debug')"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **environ},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_wsgi_without_a_config_name_is_production_and_refuses_to_start_without_a_secret():
    started = import_wsgi()

    assert started.returncode != 0
    assert "RuntimeError" in started.stderr
    assert "SECRET_KEY" in started.stderr


def test_wsgi_without_a_config_name_serves_production_settings_without_debug():
    started = import_wsgi(
        SECRET_KEY=secrets.token_hex(24),
        DATABASE_URL=PRODUCTION_DATABASE_URL,
        PUBLIC_BASE_URL="https://groupvisits.clinic.example.org",
        RATELIMIT_STORAGE_URI="memory://",
    )

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "no debug"


def test_wsgi_serves_development_only_when_asked_by_name():
    started = import_wsgi(GROUPVISITS_CONFIG="development")

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "debug"


def test_make_run_asks_for_the_development_configuration():
    dry_run = subprocess.run(
        ["make", "--dry-run", "--always-make", "run"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
    )

    flask_lines = [line for line in dry_run.stdout.splitlines() if "flask --app wsgi" in line]
    assert flask_lines, dry_run.stdout + dry_run.stderr
    assert all("GROUPVISITS_CONFIG=development" in line for line in flask_lines)
