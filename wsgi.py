"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

import os

from groupvisits import create_app

app = create_app(os.environ.get("GROUPVISITS_CONFIG", "development"))
