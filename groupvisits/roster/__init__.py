"""Rosters: who belongs to each group, the waitlist, RSVPs and check-in."""

from flask import Blueprint

bp = Blueprint("roster", __name__)

# The routes are attached in views.py, imported by create_app's register_blueprints.
