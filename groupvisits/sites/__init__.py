"""Sites: clinic locations, each with its own time zone."""

from flask import Blueprint

bp = Blueprint("sites", __name__, url_prefix="/sites")

# The routes are attached in views.py, imported by create_app's register_blueprints.
