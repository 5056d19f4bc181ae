"""One-on-one visits inside a session: slots, the planner, encounter notes."""

from flask import Blueprint

bp = Blueprint("encounters", __name__)

# The routes are attached in views.py (and the modules it imports), imported by create_app.
