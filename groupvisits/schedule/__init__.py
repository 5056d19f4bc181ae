"""Schedule: the sessions of each group, their plans, the month view and calendar feeds."""

from flask import Blueprint

bp = Blueprint("schedule", __name__)

# The routes are attached in views.py, imported by create_app's register_blueprints.
