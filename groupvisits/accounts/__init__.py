"""Accounts: people, roles, sign-in, invitations, passwords and profiles."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

# The routes are attached in views.py, imported by create_app's register_blueprints.
