"""The patients' agenda: topics, votes, curation, the question box and what was said."""

from flask import Blueprint

bp = Blueprint("agenda", __name__)

# The routes are attached in views.py (and the modules it imports), imported by create_app.
