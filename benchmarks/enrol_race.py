"""Forty enrolment requests at once against a running server, for the last free places.

    python -m benchmarks.enrol_race --base http://127.0.0.1:8001 --database URL

Makes a fresh group with two free places, signs forty clients in as the demo
coordinator, fires every enrolment at the same moment across the server's
workers, then checks the database: exactly two places taken, the rest waitlisted.
"""

import argparse
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from sqlalchemy import func, select

from groupvisits import create_app
from groupvisits.accounts.models import PATIENT, User, user_sites
from groupvisits.extensions import db
from groupvisits.groups import services as groups
from groupvisits.roster import services as roster
from groupvisits.roster.models import Membership

REQUESTS = 40
COORDINATOR = "coordinator@riverside.example.org"


class Client:
    """A tiny browser: cookies, CSRF token, no redirects followed."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect()
        )

    def request(self, path: str, data: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            response = self.opener.open(self.base + path, data=body, timeout=60)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        return response.status, response.read().decode()

    def sign_in(self, email: str, password: str) -> str:
        _, page = self.request("/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        status, _ = self.request(
            "/login", {"email": email, "password": password, "csrf_token": token}
        )
        if status != 302:
            raise SystemExit(f"sign-in failed ({status})")
        _, page = self.request("/account/password")
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8001")
    parser.add_argument("--database", required=True)
    args = parser.parse_args(argv)
    app = create_app({"CONFIG": "development", "SQLALCHEMY_DATABASE_URI": args.database})
    with app.app_context():
        coordinator = db.session.scalar(select(User).where(User.email == COORDINATOR))
        site = coordinator.sites[0]
        group = groups.create_group(
            site,
            {
                "name": f"Race group {db.session.scalar(select(func.count(Membership.id)))}",
                "modality": "in_person",
                "location": "Room 1",
                "length_minutes": 120,
                "min_members": 8,
                "target_members": 12,
                "max_members": 15,
                "census_warning_days": 14,
            },
            actor=None,
        )
        patients = db.session.scalars(
            select(User)
            .join(user_sites, user_sites.c.user_id == User.id)
            .where(user_sites.c.site_id == site.id, User.role == PATIENT)
            .order_by(User.id)
            .limit(13 + REQUESTS)
        ).all()
        for patient in patients[:13]:
            roster.enrol(group, patient, actor=None)
        db.session.commit()
        group_id, hopefuls = group.id, [p.id for p in patients[13:]]

    clients = [Client(args.base) for _ in hopefuls]
    tokens = [client.sign_in(COORDINATOR, "demo-password-1") for client in clients]
    barrier = threading.Barrier(len(clients))
    statuses = [None] * len(clients)

    def fire(index):
        barrier.wait()
        statuses[index], _ = clients[index].request(
            f"/groups/{group_id}/enrol",
            {"patient_id": str(hopefuls[index]), "csrf_token": tokens[index]},
        )

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with app.app_context():
        counts = dict(
            db.session.execute(
                select(Membership.status, func.count())
                .where(Membership.group_id == group_id)
                .group_by(Membership.status)
            ).all()
        )
    errors = sum(1 for status in statuses if status is None or status >= 500)
    print(
        f"enrolment race: {REQUESTS} requests, statuses {sorted(set(statuses))}, "
        f"{errors} errors; group now {counts}"
    )
    ok = errors == 0 and counts == {"active": 15, "waitlisted": REQUESTS - 2}
    print(
        "enrolment race: "
        + ("exactly the 2 free places taken, the rest waitlisted" if ok else "FAILED")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
