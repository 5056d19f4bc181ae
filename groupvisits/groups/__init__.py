"""Groups: standing cohorts of patients, their census rules and their recurring schedule."""

from flask import Blueprint

bp = Blueprint("groups", __name__, url_prefix="/groups")

# The routes are attached in views.py, imported by create_app's register_blueprints.
