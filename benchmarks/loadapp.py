"""The WSGI app for load runs: production settings, but cookies over plain HTTP on loopback."""

import os

from groupvisits import create_app

app = create_app(
    {
        "CONFIG": "development",
        "DEBUG": False,
        "TEMPLATES_AUTO_RELOAD": False,
        "SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"],
        "SECRET_KEY": os.environ.get("SECRET_KEY", "load-run-secret-key-not-for-production"),
    }
)
