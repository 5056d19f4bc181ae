"""Password hashing (argon2id) and the signed links that set a password."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from groupvisits.errors import InvalidToken

INVITATION = "invitation"
PASSWORD_RESET = "password-reset"

#: Verified against when an email is unknown, so that timing does not reveal accounts.
_DUMMY_HASH_CACHE: dict[tuple, str] = {}


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["PASSWORD_HASH_TIME_COST"],
        memory_cost=config["PASSWORD_HASH_MEMORY_COST"],
        parallelism=config["PASSWORD_HASH_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with the configured cost."""
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; spends the same time when there is no hash."""
    hasher = _hasher()
    if stored_hash is None:
        key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
        if key not in _DUMMY_HASH_CACHE:
            _DUMMY_HASH_CACHE[key] = hasher.hash("not-a-password")
        stored_hash = _DUMMY_HASH_CACHE[key]
        password = password + "\0"  # never matches the dummy
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True if the hash was made with weaker parameters than configured now."""
    return _hasher().check_needs_rehash(stored_hash)


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"groupvisits-{purpose}")


def make_token(purpose: str, user_id: int, security_stamp: str) -> str:
    """A signed link token; it dies when the password (and so the stamp) changes."""
    return _serializer(purpose).dumps({"u": user_id, "s": security_stamp})


def read_token(purpose: str, token: str) -> tuple[int, str]:
    """The user id and stamp inside ``token``.

    :raises InvalidToken: the token is forged, malformed or expired.
    """
    max_age = current_app.config[
        "INVITATION_MAX_AGE" if purpose == INVITATION else "PASSWORD_RESET_MAX_AGE"
    ]
    try:
        data = _serializer(purpose).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired as exc:
        raise InvalidToken(
            "This link has expired. Ask for a new one and use it within its time limit."
        ) from exc
    except BadSignature as exc:
        raise InvalidToken("This link is not valid. Check that you copied all of it.") from exc
    if not isinstance(data, dict) or "u" not in data or "s" not in data:
        raise InvalidToken("This link is not valid. Check that you copied all of it.")
    return int(data["u"]), str(data["s"])
