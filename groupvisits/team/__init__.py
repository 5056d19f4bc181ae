"""The interprofessional team: who staffs each session, in which role, and time off."""

from flask import Blueprint

bp = Blueprint("team", __name__)

# The routes are attached in views.py (and the modules it imports), imported by create_app.
