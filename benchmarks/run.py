"""Measure each main page: SQL queries and median server time, beside a bare Flask page.

    python -m benchmarks.run [--database URL] [--requests N] [--pages WORDS]

Without --database, a SQLite file under instance/ is filled with the
network-sized demo (``seed-demo --scale large``) on first use. The bare page
is a Flask app on the same database that runs one query and renders 15 rows.
"""

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import flask_migrate
from flask import Flask, render_template
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import event, func, select, text

from benchmarks import planner
from benchmarks.pages import main_pages
from groupvisits import create_app
from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.permissions import signed_in

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = f"sqlite:///{ROOT / 'instance' / 'bench-large.sqlite'}"
PASSWORD = "demo-password-1"
BARE_TEMPLATE = """<!doctype html><title>Bare</title><ul>
{% for id, name in rows %}<li>{{ id }} {{ name }}</li>{% endfor %}</ul>"""
EMPTY_TEMPLATE = '{% extends "base.html" %}{% block content %}<h1>Empty</h1>{% endblock %}'
#: Targets: every page within this many times the bare page; feeds under this many ms.
#: A page's median within this many times the signed-in empty page's; feeds within 30 ms.
EMPTY_TARGET, FEED_TARGET_MS = 4.0, 30.0
BARE, EMPTY = "bare Flask page", "signed-in empty page"


def prepare(database: str) -> Flask:
    """The app on ``database``, migrated and filled with the large demo if empty."""
    app = create_app(
        {
            "CONFIG": "development",
            "DEBUG": False,
            "TEMPLATES_AUTO_RELOAD": False,
            "SQLALCHEMY_DATABASE_URI": database,
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
        if not db.session.scalar(select(func.count()).select_from(User)):
            print("Loading the network-sized demo (a few seconds)...", file=sys.stderr)
            runner = app.test_cli_runner()
            result = runner.invoke(args=["groupvisits", "seed-demo", "--scale", "large"])
            if result.exit_code:
                raise SystemExit(result.output)
    return app


def bare_app(database: str) -> Flask:
    """A minimal Flask app on the same stack: Flask-SQLAlchemy, one query, 15 rows, Jinja."""
    from flask_sqlalchemy import SQLAlchemy

    bare = Flask("bare")
    bare.config["SQLALCHEMY_DATABASE_URI"] = database
    # A loaded template, compiled once and cached as every real page's is
    # (render_template_string would compile it again on every request).
    bare.jinja_loader = DictLoader({"bare.html": BARE_TEMPLATE})
    bare_db = SQLAlchemy(bare)

    @bare.get("/")
    def page():
        rows = bare_db.session.execute(
            text("SELECT id, email FROM users ORDER BY id LIMIT 15")
        ).all()
        return render_template("bare.html", rows=rows)

    return bare


def add_empty_page(app: Flask) -> str:
    """A signed-in page with the layout and nothing in it: the app's own floor."""
    app.jinja_env.loader = ChoiceLoader(
        [app.jinja_env.loader, DictLoader({"bench-empty.html": EMPTY_TEMPLATE})]
    )

    @signed_in
    def empty_page():
        return render_template("bench-empty.html")

    app.add_url_rule("/bench-empty", "bench_empty", empty_page)
    return "/bench-empty"


def sign_in(app: Flask, email: str):
    client = app.test_client()
    if not email:
        return client
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 302:
        raise SystemExit(f"could not sign in as {email}")
    return client


def measure(targets: dict[str, tuple], requests: int, rounds: int = 5) -> dict[str, tuple]:
    """Median milliseconds per request of each (client, url), and the last status.

    The targets take turns, a few requests each per round, so that a slow
    moment of the machine spreads over every page instead of hitting one.
    """
    samples: dict[str, list[float]] = {name: [] for name in targets}
    statuses = {}
    for client, url in targets.values():
        for _ in range(3):
            client.get(url)  # warm caches and connections
    for _ in range(rounds):
        for name, (client, url) in targets.items():
            for _ in range(max(requests // rounds, 1)):
                start = time.perf_counter()
                response = client.get(url)
                samples[name].append((time.perf_counter() - start) * 1000)
                statuses[name] = response.status_code
    return {name: (statistics.median(samples[name]), statuses[name]) for name in targets}


def count_queries(app: Flask, client, url: str) -> int:
    with app.app_context():
        engine = db.engine
    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--requests", type=int, default=100, help="per page")
    parser.add_argument(
        "--pages", metavar="WORDS", help="only the pages whose name contains WORDS"
    )
    args = parser.parse_args(argv)
    (ROOT / "instance").mkdir(exist_ok=True)
    app = prepare(args.database)
    empty_url = add_empty_page(app)
    with app.app_context():
        pages = main_pages()
    if args.pages:
        pages = [page for page in pages if args.pages in page.name]
        if not pages:
            raise SystemExit(f"no page's name contains {args.pages!r}")
    clients = {}
    for page in pages:
        if page.user not in clients:
            clients[page.user] = sign_in(app, page.user)
    empty_client = sign_in(app, pages[0].user)
    queries = {page.name: count_queries(app, clients[page.user], page.url) for page in pages}
    queries[EMPTY] = count_queries(app, empty_client, empty_url)
    targets = {BARE: (bare_app(args.database).test_client(), "/"), EMPTY: (empty_client, empty_url)}
    targets.update({page.name: (clients[page.user], page.url) for page in pages})
    results = measure(targets, args.requests)
    bare_ms, empty_ms = results[BARE][0], results[EMPTY][0]
    queries[BARE] = 1
    failures = []
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}")
    print(
        f"{'page':<26} {'status':>6} {'queries':>7} {'median ms':>10} {'x bare':>7} {'x empty':>8}"
    )
    for name, (median_ms, status) in results.items():
        ratio = median_ms / bare_ms
        print(
            f"{name:<26} {status:>6} {queries[name]:>7} {median_ms:>10.2f} {ratio:>7.1f}"
            f" {median_ms / empty_ms:>8.1f}"
        )
        if status != 200:
            failures.append(f"{name}: status {status}")
        elif "feed" in name and median_ms > FEED_TARGET_MS:
            failures.append(f"{name}: {median_ms:.1f} ms > {FEED_TARGET_MS} ms")
        elif "feed" not in name and name != BARE and median_ms / empty_ms > EMPTY_TARGET:
            failures.append(
                f"{name}: {median_ms / empty_ms:.1f}x the signed-in empty page > {EMPTY_TARGET}x"
            )
    failures += planner.report()
    if failures:
        print("\nTargets missed:\n  " + "\n  ".join(failures))
        return 1
    print("\nAll pages within the targets.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
