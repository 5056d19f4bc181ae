"""Dashboards: the landing page of each role."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)

# The routes are attached in views.py, imported by create_app's register_blueprints.
