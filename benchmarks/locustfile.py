"""Fifty signed-in people browsing their main pages (``make load`` drives this headless)."""

import itertools
import re

from locust import HttpUser, between, task

DEMO = "riverside.example.org"
PASSWORD = "demo-password-1"
#: Coordinators and clinicians of the demo site, and its patients 01–30.
STAFF = [f"coordinator@{DEMO}", f"attending@{DEMO}", f"resident1@{DEMO}", f"nurse@{DEMO}"]
PATIENTS = [f"patient{n:02d}@{DEMO}" for n in range(1, 31)]
_people = itertools.cycle(STAFF * 3 + PATIENTS)


class Person(HttpUser):
    """Signs in once, then opens the pages of their role."""

    wait_time = between(0.5, 1.5)

    def on_start(self):
        self.email = next(_people)
        page = self.client.get("/login", name="/login").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        self.client.post(
            "/login",
            data={"email": self.email, "password": PASSWORD, "csrf_token": token},
            name="/login (POST)",
            allow_redirects=False,
        )
        self.is_patient = self.email.startswith("patient")
        home = self.client.get("/", name="/ (dashboard)").text
        self.sessions = sorted(set(re.findall(r'href="/sessions/(\d+)"', home)))[:3]
        self.groups = sorted(set(re.findall(r'href="/groups/(\d+)"', home)))[:3]

    @task(4)
    def dashboard(self):
        self.client.get("/", name="/ (dashboard)")

    @task(2)
    def groups(self):
        if self.is_patient:
            self.client.get("/my/groups", name="/my/groups")
        else:
            self.client.get("/groups/", name="/groups/")

    @task(2)
    def one_group(self):
        for group_id in self.groups[:1]:
            self.client.get(f"/groups/{group_id}", name="/groups/[id]")
            if not self.is_patient:
                self.client.get(f"/groups/{group_id}/roster", name="/groups/[id]/roster")

    @task(3)
    def one_session(self):
        for session_id in self.sessions[:1]:
            self.client.get(f"/sessions/{session_id}", name="/sessions/[id]")
            if not self.is_patient:
                self.client.get(
                    f"/sessions/{session_id}/attendance", name="/sessions/[id]/attendance"
                )

    @task(1)
    def my_sessions_or_calendar(self):
        if self.is_patient:
            self.client.get("/my/sessions", name="/my/sessions")
        else:
            self.client.get("/sites/1/calendar", name="/sites/[id]/calendar")
