"""Configuration classes; secrets and the database come from the environment."""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

#: Keys that must never be used outside development and tests.
UNSAFE_SECRET_KEYS = {"", "dev", "development-only-not-secret", "change-me"}


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY", "development-only-not-secret")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'groupvisits.sqlite'}"
    )
    # hide_parameters: a database error's text never carries the values (patient data) it
    # was given, so logs of failed statements hold no patient data.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}

    # Session cookie: signed, not encrypted. It carries the opaque sign-in token, the CSRF
    # token and messages to visitors who are not signed in; patient data (search words, the
    # messages of a signed-in person) stays on the server with the sign-in.
    SESSION_COOKIE_NAME = "gv_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    #: Sign-ins idle for longer than this are ended on the server.
    IDLE_TIMEOUT = timedelta(minutes=int(os.environ.get("IDLE_TIMEOUT_MINUTES", "15")))

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the sign-in

    # argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): strong,
    # yet a burst of sign-ins at the start of a clinic day does not stall the server.
    PASSWORD_HASH_TIME_COST = 2
    PASSWORD_HASH_MEMORY_COST = 19 * 1024
    PASSWORD_HASH_PARALLELISM = 1
    PASSWORD_MIN_LENGTH = 12

    INVITATION_MAX_AGE = timedelta(days=7)
    PASSWORD_RESET_MAX_AGE = timedelta(hours=2)

    # Throttling of sign-in attempts.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = False
    #: Every sign-in attempt is counted up front and one that worked is given back
    #: (accounts.views): that takes counters, which the fixed window keeps.
    RATELIMIT_STRATEGY = "fixed-window"
    LOGIN_LIMIT_PER_ACCOUNT = "5 per 15 minutes"
    LOGIN_LIMIT_PER_ADDRESS = "20 per 15 minutes"

    #: Reverse proxies in front of the app whose X-Forwarded-For is believed (env
    #: TRUSTED_PROXY_COUNT). 0 here: a client's own header must not choose its address.
    TRUSTED_PROXY_COUNT = 0

    # Outgoing mail (invitations, password resets); unset server means "queue only".
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "") == "1"
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_SENDER = os.environ.get("MAIL_SENDER", "GroupVisits <no-reply@localhost>")

    #: Address shown in links sent by mail, e.g. https://groupvisits.example.org
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    #: Right-hand side of calendar UIDs; keep it stable for the life of the installation.
    CALENDAR_UID_DOMAIN = os.environ.get("CALENDAR_UID_DOMAIN", "groupvisits.local")
    #: Sessions are generated this many days ahead (about 6 months).
    SCHEDULE_HORIZON_DAYS = int(os.environ.get("SCHEDULE_HORIZON_DAYS", "183"))


class DevelopmentConfig(Config):
    """Local development: cookies over plain HTTP, an embedded SQLite database."""

    DEBUG = True
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False


class TestingConfig(Config):
    """Tests: cheap password hashing, a database chosen by the test run."""

    TESTING = True
    SECRET_KEY = "testing-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_SQLITE_URL", "sqlite://")
    PASSWORD_HASH_TIME_COST = 1
    PASSWORD_HASH_MEMORY_COST = 8
    PASSWORD_HASH_PARALLELISM = 1
    SERVER_NAME = "localhost"


class ProductionConfig(Config):
    """Production: refuses to start without a real secret key."""

    #: The documented set-up: gunicorn on 127.0.0.1 behind one HTTPS reverse proxy.
    DEFAULT_TRUSTED_PROXY_COUNT = "1"

    @classmethod
    def trusted_proxy_count(cls) -> int:
        """How many proxies to believe, from TRUSTED_PROXY_COUNT (a whole number, 0 or more)."""
        value = os.environ.get("TRUSTED_PROXY_COUNT", cls.DEFAULT_TRUSTED_PROXY_COUNT).strip()
        if not value.isdigit():
            raise RuntimeError(
                "TRUSTED_PROXY_COUNT must be the number of reverse proxies in front of the app "
                "(0 if clients connect to it directly)."
            )
        return int(value)

    @classmethod
    def check(cls) -> None:
        """Raise if the environment is not fit for production."""
        cls.trusted_proxy_count()
        key = os.environ.get("SECRET_KEY", "")
        if key in UNSAFE_SECRET_KEYS or len(key) < 32:
            raise RuntimeError(
                "ProductionConfig needs SECRET_KEY set to a random value of at least 32 characters."
            )
        if "DATABASE_URL" not in os.environ:
            raise RuntimeError("ProductionConfig needs DATABASE_URL.")
        # Links in emails (invitations, password resets) are built from it: without it
        # they would take their host from the request, which a sender can forge.
        if not os.environ.get("PUBLIC_BASE_URL", "").startswith("https://"):
            raise RuntimeError(
                "ProductionConfig needs PUBLIC_BASE_URL, the https:// address people use."
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
