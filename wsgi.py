"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``.

Production unless GROUPVISITS_CONFIG names another configuration: a server started
without it refuses to run with a known secret key and the debugger. ``make run``
asks for ``development`` by name.
"""

import os

from groupvisits import create_app

app = create_app(os.environ.get("GROUPVISITS_CONFIG", "production"))
