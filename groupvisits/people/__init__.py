"""People: coordinators administer the accounts of their sites."""

from flask import Blueprint

bp = Blueprint("people", __name__, url_prefix="/people")

# The routes are attached in views.py, imported by create_app's register_blueprints.
