"""Encounter notes over HTTP: the resident's draft, signature, the attending's queue,
return and addendum, who may read what, what each page writes to the audit trail, and
what the queue and a clinician's notes cost to show."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import COORDINATOR, PATIENT
from groupvisits.agenda.models import (
    ACCEPTED,
    ANONYMOUS,
    DECLINED,
    DISCUSSED,
    KEPT,
    QUESTION,
    AgendaItem,
    AgendaTopic,
)
from groupvisits.agenda.models import OPEN as TOPIC_OPEN
from groupvisits.audit import AuditEvent
from groupvisits.encounters import note_fields, note_workflow
from groupvisits.encounters.models import (
    ATTESTED,
    DRAFT,
    FINAL,
    RETURNED,
    SIGNED,
    EncounterNote,
    NoteAddendum,
    NoteEvent,
    PatientGoal,
)
from tests.encounter_factories import add_session, add_slot, assign
from tests.unit.test_note_services import (
    START,
    Visit,
    another_visit,
    clinician,
    make_visit,
    signed,
    written,
)

NOTE_URL = re.compile(r"/notes/(\d+)$")


@pytest.fixture
def group(create_group, site):
    return create_group(site, rule=None, name="Tuesday diabetes group")


@pytest.fixture
def visit(db, create_user, group):
    return make_visit(db, create_user, group)


def version_on(page) -> str:
    match = re.search(r'name="version" type="hidden" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "no version on the page"
    return match.group(1)


def draft(version: str, **fields) -> dict:
    """The note form as a provider fills it in."""
    data = {
        "version": version,
        "weight_unit": "kg",
        "concerns": "Tired after lunch.",
        "systolic": "132",
        "diastolic": "84",
        "weight": "81.5",
        "hba1c": "7.4",
        "glucose": "150",
        "assessment": "Post-prandial dips.",
        "plan": "Smaller lunch; walk after meals.",
        "goals": "Walk 10 minutes after lunch\nPack a smaller lunch",
        "action_plan": "Walk with a colleague.",
        "follow_up": "Review food diary.",
        "billing_level": "99213",
        "minutes": "15",
    }
    data.update(fields)
    return data


def fresh(db, note_id: int) -> EncounterNote:
    """The note as the requests left it."""
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(EncounterNote, note_id)


def text_of(response) -> str:
    """The page's text as a reader sees it (entities such as &#39; unescaped)."""
    return html.unescape(response.get_data(as_text=True))


def title_of(response) -> str:
    return re.search(r"<title>(.*?)</title>", text_of(response), re.S).group(1)


def open_and_write(client, visit, **fields) -> int:
    """The provider opens the visit's note and saves the draft; the note's id."""
    opened = client.post_form(f"/slots/{visit.slot.id}/note")
    assert opened.status_code == 302
    note_id = int(NOTE_URL.search(opened.headers["Location"]).group(1))
    page = client.get(f"/notes/{note_id}")
    saved = client.post_form(f"/notes/{note_id}", draft(version_on(page), **fields))
    assert saved.status_code == 302, text_of(saved)
    return note_id


# The flow


def test_resident_writes_and_signs_then_the_attending_attests(db, visit, sign_in_as):
    resident, attending = sign_in_as(visit.provider), sign_in_as(visit.preceptor)

    opened = resident.post_form(f"/slots/{visit.slot.id}/note")
    assert opened.status_code == 302
    assert NOTE_URL.search(opened.headers["Location"])  # ids only in the address
    note_id = int(NOTE_URL.search(opened.headers["Location"]).group(1))
    page = resident.get(f"/notes/{note_id}")
    assert page.status_code == 200
    assert title_of(page) == "Visit note · GroupVisits"
    for words in ("Before the visit", "Save draft", "Sign note", "(mmHg)", "(kg)", "(mg/dL)"):
        assert words in text_of(page)

    saved = resident.post_form(f"/notes/{note_id}", draft(version_on(page)))
    assert saved.status_code == 302
    assert "Draft saved." in text_of(resident.get(f"/notes/{note_id}"))
    note = fresh(db, note_id)
    assert (note.status, note.systolic, note.plan) == (
        DRAFT,
        132,
        "Smaller lunch; walk after meals.",
    )

    page = resident.get(f"/notes/{note_id}")
    signing = resident.post_form(
        f"/notes/{note_id}/sign", draft(version_on(page), concerns="Tired after lunch, dizzy.")
    )
    assert signing.status_code == 302
    note = fresh(db, note_id)
    assert (note.status, note.preceptor_id) == (SIGNED, visit.preceptor.id)
    assert note.concerns == "Tired after lunch, dizzy."  # saved with the signature
    assert "waits for" in text_of(resident.get(f"/notes/{note_id}"))
    assert db.session.scalar(select(func.count(PatientGoal.id))) == 2

    queue = attending.get("/attestations")
    assert queue.status_code == 200
    assert visit.patient.full_name in text_of(queue)
    review = attending.get(f"/notes/{note_id}")
    assert "Attest note" in text_of(review) and "Return to" in text_of(review)
    attested = attending.post_form(f"/notes/{note_id}/attest", {"version": version_on(review)})
    assert attested.status_code == 302
    assert attested.headers["Location"].endswith("/attestations")
    assert fresh(db, note_id).status == ATTESTED
    assert "No notes wait for your attestation." in text_of(attending.get("/attestations"))

    mine = text_of(resident.get("/my/encounters"))
    assert "Attested" in mine and visit.patient.full_name in mine


def test_returned_note_is_answered_by_addendum_signed_again_and_attested(db, visit, sign_in_as):
    resident, attending = sign_in_as(visit.provider), sign_in_as(visit.preceptor)
    note_id = open_and_write(resident, visit)
    resident.post_form(
        f"/notes/{note_id}/sign", draft(version_on(resident.get(f"/notes/{note_id}")))
    )

    review = attending.get(f"/notes/{note_id}")
    returned = attending.post_form(
        f"/notes/{note_id}/return",
        {"version": version_on(review), "comment": "Please document the foot exam."},
    )
    assert returned.status_code == 302
    assert fresh(db, note_id).status == RETURNED

    mine = text_of(resident.get("/my/encounters"))
    assert "Returned to you" in mine and "Please document the foot exam." in mine
    page = resident.get(f"/notes/{note_id}")
    assert "Please document the foot exam." in text_of(page)
    assert "Answer with an addendum" in text_of(page)
    assert "Save draft" not in text_of(page)  # a returned note is not edited

    too_soon = resident.post_form(f"/notes/{note_id}/resign", {"version": version_on(page)})
    assert too_soon.status_code == 422
    assert "Add an addendum that answers" in text_of(too_soon)

    added = resident.post_form(
        f"/notes/{note_id}/addenda",
        {"version": version_on(page), "text": "Foot exam: sensation normal both feet."},
    )
    assert added.status_code == 302
    page = resident.get(f"/notes/{note_id}")
    assert "Foot exam: sensation normal both feet." in text_of(page)
    again = resident.post_form(f"/notes/{note_id}/resign", {"version": version_on(page)})
    assert again.status_code == 302
    assert fresh(db, note_id).status == SIGNED

    review = attending.get(f"/notes/{note_id}")
    assert "Signed again" in text_of(review)
    attending.post_form(f"/notes/{note_id}/attest", {"version": version_on(review)})
    note = fresh(db, note_id)
    assert note.status == ATTESTED
    assert note.plan == "Smaller lunch; walk after meals."
    kinds = db.session.scalars(select(NoteEvent.kind).order_by(NoteEvent.id)).all()
    assert kinds == ["signed", "returned", "signed_again", "attested"]


def test_an_attendings_own_note_is_final_when_signed(db, create_user, group, sign_in_as):
    visit = make_visit(db, create_user, group, discipline="attending", with_preceptor=False)
    client = sign_in_as(visit.provider)
    note_id = open_and_write(client, visit)

    page = client.get(f"/notes/{note_id}")
    signing = client.post_form(f"/notes/{note_id}/sign", draft(version_on(page)))

    assert signing.status_code == 302
    note = fresh(db, note_id)
    assert (note.status, note.preceptor_id) == (FINAL, None)
    page = text_of(client.get(f"/notes/{note_id}"))
    assert "Add an addendum" in page and "Attest note" not in page


# Bad input: a clear message, a 4xx, nothing saved


def test_a_vitals_value_no_human_has_is_refused_and_nothing_saved(db, visit, sign_in_as):
    client = sign_in_as(visit.provider)
    note_id = open_and_write(client, visit)
    page = client.get(f"/notes/{note_id}")

    refused = client.post_form(
        f"/notes/{note_id}", draft(version_on(page), systolic="400", concerns="Changed")
    )

    assert refused.status_code == 422
    assert "A systolic pressure of 400 mmHg is not possible; enter 50–300." in text_of(refused)
    assert "Changed</textarea>" in text_of(refused)  # what was typed is kept
    note = fresh(db, note_id)
    assert (note.systolic, note.concerns) == (132, "Tired after lunch.")


def test_weights_are_entered_and_refused_in_the_sites_unit(db, site, visit, sign_in_as):
    site.weight_unit = "lb"
    db.session.commit()
    client = sign_in_as(visit.provider)
    note_id = open_and_write(client, visit, weight="180", weight_unit="lb")
    assert float(fresh(db, note_id).weight_kg) == pytest.approx(81.65)
    page = client.get(f"/notes/{note_id}")
    assert "(lb)" in text_of(page) and 'value="180.0"' in text_of(page)

    refused = client.post_form(
        f"/notes/{note_id}", draft(version_on(page), weight="900", weight_unit="lb")
    )

    assert refused.status_code == 422
    assert "A weight of 900 lb is not possible; enter 45–880." in text_of(refused)
    assert float(fresh(db, note_id).weight_kg) == pytest.approx(81.65)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"systolic": "abc"}, "Not a valid integer value"),
        ({"systolic": "120", "diastolic": ""}, "A blood pressure needs both numbers"),
        ({"systolic": "80", "diastolic": "90"}, "The systolic pressure is the larger number"),
        ({"billing_level": "99999"}, "Not a valid choice"),
        ({"version": ""}, "This page is out of date"),
    ],
)
def test_other_bad_drafts_are_explained(db, visit, sign_in_as, fields, message):
    client = sign_in_as(visit.provider)
    note_id = open_and_write(client, visit)
    page = client.get(f"/notes/{note_id}")

    data = draft(version_on(page), concerns="X")
    data.update(fields)
    refused = client.post_form(f"/notes/{note_id}", data)

    assert refused.status_code == 422
    assert message in text_of(refused)
    assert fresh(db, note_id).concerns == "Tired after lunch."


def test_an_addendum_to_someone_elses_note_is_refused(db, create_user, visit, sign_in_as):
    note = signed(db, visit)
    colleague = sign_in_as(clinician(create_user, "resident"))
    page = colleague.get(f"/notes/{note.id}")
    assert page.status_code == 200 and "Add an addendum" not in text_of(page)

    refused = colleague.post_form(
        f"/notes/{note.id}/addenda", {"version": note_fields.note_version(note), "text": "Mine now"}
    )

    assert refused.status_code == 403
    assert "Only the author of a note adds addenda to it." in text_of(refused)
    assert db.session.scalar(select(func.count(NoteAddendum.id))) == 0


def test_a_second_signature_is_a_conflict(db, visit, sign_in_as):
    client = sign_in_as(visit.provider)
    note_id = open_and_write(client, visit)
    form = draft(version_on(client.get(f"/notes/{note_id}")))

    first = client.post_form(f"/notes/{note_id}/sign", form)
    second = client.post_form(f"/notes/{note_id}/sign", form)

    assert first.status_code == 302
    assert second.status_code == 409
    assert "already signed" in text_of(second) or "no longer be changed" in text_of(second)
    assert db.session.scalar(select(func.count(NoteEvent.id))) == 1


def test_editing_a_signed_note_is_refused(db, visit, sign_in_as):
    client = sign_in_as(visit.provider)
    note_id = open_and_write(client, visit)
    version = version_on(client.get(f"/notes/{note_id}"))
    client.post_form(f"/notes/{note_id}/sign", draft(version))

    refused = client.post_form(f"/notes/{note_id}", draft(version, plan="Rewritten afterwards"))

    assert refused.status_code == 409
    assert "Add an addendum instead." in text_of(refused)
    assert fresh(db, note_id).plan == "Smaller lunch; walk after meals."


def test_attestation_by_someone_not_the_preceptor_is_refused(db, create_user, visit, sign_in_as):
    note = signed(db, visit)
    other_attending = sign_in_as(clinician(create_user, "attending"))

    refused = other_attending.post_form(
        f"/notes/{note.id}/attest", {"version": note_fields.note_version(note)}
    )

    assert refused.status_code == 403
    assert "Only the note's precepting attending attests or returns it." in text_of(refused)
    assert fresh(db, note.id).status == SIGNED


def test_a_return_without_a_comment_is_refused(db, visit, sign_in_as):
    note = signed(db, visit)
    attending = sign_in_as(visit.preceptor)

    refused = attending.post_form(
        f"/notes/{note.id}/return", {"version": note_fields.note_version(note), "comment": "  "}
    )

    assert refused.status_code == 422
    assert "Say what the resident should change" in text_of(refused)
    assert fresh(db, note.id).status == SIGNED


def test_a_note_for_a_slot_that_is_not_yours_is_refused(db, create_user, visit, sign_in_as):
    other_resident = sign_in_as(clinician(create_user, "resident"))

    refused = other_resident.post_form(f"/slots/{visit.slot.id}/note")

    assert refused.status_code == 403
    assert "Only the provider of this one-on-one visit writes its note." in text_of(refused)
    assert db.session.scalar(select(func.count(EncounterNote.id))) == 0


def test_a_colleague_opening_a_started_note_is_taken_to_read_it(db, create_user, visit, sign_in_as):
    note = written(db, visit)
    colleague = sign_in_as(clinician(create_user, "attending"))

    opened = colleague.post_form(f"/slots/{visit.slot.id}/note")

    assert opened.status_code == 302
    assert opened.headers["Location"].endswith(f"/notes/{note.id}")
    page = text_of(colleague.get(f"/notes/{note.id}"))
    assert "draft, not signed yet" in page and "Save draft" not in page


def test_signing_without_a_precepting_attending_keeps_the_draft(db, create_user, group, sign_in_as):
    visit = make_visit(db, create_user, group, with_preceptor=False)
    client = sign_in_as(visit.provider)
    note_id = open_and_write(client, visit)

    refused = client.post_form(
        f"/notes/{note_id}/sign",
        draft(version_on(client.get(f"/notes/{note_id}")), plan="Plan typed before signing"),
    )

    assert refused.status_code == 409
    assert "Your draft is saved, but not signed." in text_of(refused)
    assert "no precepting attending" in text_of(refused)
    note = fresh(db, note_id)
    assert (note.status, note.plan) == (DRAFT, "Plan typed before signing")
    # The page offers the saved draft again, ready to sign once an attending is assigned.
    assign(visit.group_session, clinician(create_user, "attending"), "precepting_attending")
    again = client.post_form(
        f"/notes/{note_id}/sign", draft(version_on(refused), plan="Plan typed before signing")
    )
    assert again.status_code == 302
    assert fresh(db, note_id).status == SIGNED


def test_a_draft_saved_in_another_window_is_not_overwritten_unseen(db, visit, sign_in_as):
    client = sign_in_as(visit.provider)
    note_id = open_and_write(client, visit)
    stale = version_on(client.get(f"/notes/{note_id}"))
    client.post_form(f"/notes/{note_id}", draft(stale, plan="From the tablet"))

    refused = client.post_form(f"/notes/{note_id}", draft(stale, plan="From the desktop"))

    assert refused.status_code == 409
    assert "changed at" in text_of(refused)
    assert "From the desktop" in text_of(refused)  # what was typed is still on the page
    assert fresh(db, note_id).plan == "From the tablet"
    # Told, the person may now save over it.
    saved = client.post_form(
        f"/notes/{note_id}", draft(version_on(refused), plan="From the desktop")
    )
    assert saved.status_code == 302
    assert fresh(db, note_id).plan == "From the desktop"


def test_my_notes_list_returned_ones_first_with_the_comment(db, create_user, group, sign_in_as):
    resident, _ = notes_for(db, create_user, group, 4)

    page = text_of(sign_in_as(resident).get("/my/encounters"))

    headings = ["Returned to you", "Drafts to finish and sign", "Awaiting attestation", "Attested"]
    assert [page.index(h) for h in headings] == sorted(page.index(h) for h in headings)
    assert "Add the exam." in page


# Who may read


def test_author_preceptor_and_clinicians_of_the_site_read_the_note(
    db, create_user, site, visit, sign_in_as
):
    note = signed(db, visit)
    colleague = clinician(create_user, "dietitian", sites=[site])

    for reader in (visit.provider, visit.preceptor, colleague):
        page = sign_in_as(reader).get(f"/notes/{note.id}")
        assert page.status_code == 200
        assert "Walk after dinner." in text_of(page)


def test_coordinators_and_patients_never_read_note_contents(
    db, create_user, site, visit, sign_in_as
):
    note = signed(db, visit, assessment="Secret assessment")
    coordinator = create_user(COORDINATOR, sites=[site])

    for reader in (coordinator, visit.patient):
        client = sign_in_as(reader)
        for url in (f"/notes/{note.id}", "/attestations", "/my/encounters"):
            response = client.get(url)
            assert response.status_code == 403, (reader, url)
            assert "Secret assessment" not in text_of(response)
        refused = client.post_form(f"/notes/{note.id}/addenda", {"version": "x", "text": "Hi"})
        assert refused.status_code == 403


def test_a_clinician_of_another_site_finds_no_such_note(
    db, create_user, other_site, visit, sign_in_as
):
    note = signed(db, visit)
    outsider = sign_in_as(clinician(create_user, "attending", sites=[other_site]))

    assert outsider.get(f"/notes/{note.id}").status_code == 404
    for action in ("addenda", "attest", "return", "resign", "sign"):
        assert outsider.post_form(f"/notes/{note.id}/{action}", {}).status_code == 404
    assert outsider.post_form(f"/slots/{visit.slot.id}/note").status_code == 404
    assert outsider.get("/notes/999999").status_code == 404


# The audit trail


def trail(db, **where) -> list[tuple]:
    db.session.rollback()
    query = select(
        AuditEvent.actor_id, AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id
    )
    query = query.where(AuditEvent.actor_id.is_not(None))
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return [tuple(row) for row in db.session.execute(query.order_by(AuditEvent.id))]


def test_every_read_and_write_of_a_note_is_audited(db, visit, sign_in_as):
    resident, attending = sign_in_as(visit.provider), sign_in_as(visit.preceptor)
    patient_id, r, a = visit.patient.id, visit.provider.id, visit.preceptor.id

    def post(client, action: str, **data):
        page = client.get(f"/notes/{note_id}")
        data["version"] = version_on(page)
        response = client.post_form(f"/notes/{note_id}{action}", data)
        assert response.status_code == 302, text_of(response)

    opened = resident.post_form(f"/slots/{visit.slot.id}/note")
    note_id = int(NOTE_URL.search(opened.headers["Location"]).group(1))
    post(resident, "", **draft("", goals="Walk daily"))
    post(resident, "/sign", **draft(""))
    attending.get("/attestations")
    post(attending, "/return", comment="Exam?")
    post(resident, "/addenda", text="Normal.")
    post(resident, "/resign")
    resident.get("/my/encounters")

    addendum_id = db.session.scalar(select(NoteAddendum.id))
    goal_ids = db.session.scalars(select(PatientGoal.id)).all()
    note, view = "encounter_note", (r, "view", "encounter_note", note_id)
    assert trail(db, patient_id=patient_id) == [
        (r, "create", note, note_id),
        view,
        (r, "update", note, note_id),  # saved
        view,
        (r, "update", note, note_id),  # saved with the signature
        (r, "update", note, note_id),  # signed
        *[(r, "create", "patient_goal", goal_id) for goal_id in goal_ids],
        (a, "view", "encounter_list", note_id),
        (a, "view", note, note_id),
        (a, "update", note, note_id),  # returned
        view,
        (r, "create", "note_addendum", addendum_id),
        view,
        (r, "update", note, note_id),  # signed again
        (r, "view", "encounter_list", note_id),
    ]
    assert len(goal_ids) == 2


def test_a_refused_change_writes_no_change_to_the_trail(db, visit, sign_in_as):
    client = sign_in_as(visit.provider)
    note_id = open_and_write(client, visit)
    page = client.get(f"/notes/{note_id}")
    before = len(trail(db, action="update"))

    client.post_form(f"/notes/{note_id}", draft(version_on(page), systolic="999"))

    assert len(trail(db, action="update")) == before
    assert trail(db)[-1][1:] == ("view", "encounter_note", note_id)  # the page shown again


# What the lists cost


def notes_for(db, create_user, group, count: int):
    """``count`` notes of one resident at one session, in every state; (resident, attending)."""
    resident = clinician(create_user, "resident")
    attending = clinician(create_user, "attending")
    group_session = add_session(group, START + timedelta(days=3))
    assign(group_session, resident, "provider")
    assign(group_session, attending, "precepting_attending")
    for number in range(count):
        patient = create_user(PATIENT)
        slot = add_slot(
            group_session,
            patient,
            resident,
            group_session.starts_at + timedelta(minutes=15 * number),
            minutes=15,
        )
        note = written(db, Visit(group_session, patient, resident, attending, slot), goals="Walk")
        if number % 4:
            note_workflow.sign(note, resident, now=START + timedelta(days=3, minutes=number))
        if number % 4 == 2:
            note_workflow.attest(note, attending)
        if number % 4 == 3:
            note_workflow.return_note(note, "Add the exam.", attending)
        db.session.commit()
    return resident, attending


def test_my_notes_list_all_my_work_and_the_latest_of_the_rest_with_counts(
    db, create_user, group, sign_in_as
):
    resident, _ = notes_for(db, create_user, group, 64)  # 16 notes in each state

    page = text_of(sign_in_as(resident).get("/my/encounters"))

    def section(status: str) -> str:
        return re.search(rf'aria-labelledby="h-{status}">(.*?)</section>', page, re.S).group(1)

    for status in ("returned", "draft"):  # the resident's own work: every note
        assert section(status).count('aria-label="Open the note') == 16, status
        assert '<span class="badge">16</span>' in section(status)
    for status, words in (("signed", "waiting longest first"), ("attested", "latest signed")):
        assert section(status).count('aria-label="Open the note') == 15, status
        assert '<span class="badge">16</span>' in section(status)
        assert f"The 15 {words}" in section(status)
    assert "Nothing waits for you" not in page


@pytest.mark.parametrize("url", ["/attestations", "/my/encounters"])
def test_the_lists_cost_the_same_with_2_and_12_notes(
    db, create_user, group, sign_in_as, count_queries, url
):
    counts = []
    for count in (2, 12):
        resident, attending = notes_for(db, create_user, group, count)
        client = sign_in_as(attending if url == "/attestations" else resident)
        client.get(url)  # first visit: one-off work
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_a_notes_page_costs_the_same_with_short_and_long_histories(
    db, create_user, group, sign_in_as, count_queries
):
    counts = []
    for visits in (2, 8):
        first = make_visit(
            db,
            create_user,
            group,
            discipline="attending",
            with_preceptor=False,
            starts_at=START + timedelta(days=400 * visits),
        )
        for number in range(1, visits):
            earlier = another_visit(
                db, create_user, first, first.group_session.starts_at - timedelta(days=28 * number)
            )
            note = signed(db, earlier, follow_up=f"Item {number}", goals=f"Goal {number}")
            note_workflow.add_addendum(note, f"Addendum {number}", first.provider)
            db.session.commit()
            propose(db, first, f"Topic {number}")
            propose(db, first, f"On the agenda {number}", on_agenda=True)
        note = signed(db, first)
        for number in range(visits):
            note_workflow.add_addendum(note, f"Later {number}", first.provider)
        db.session.commit()
        client = sign_in_as(first.provider)
        client.get(f"/notes/{note.id}")
        with count_queries() as counter:
            assert client.get(f"/notes/{note.id}").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


# Before the visit: the topics the patient proposed for the group


def propose(db, visit: Visit, title: str, *, on_agenda: bool = False, **fields) -> AgendaTopic:
    """A topic the visit's patient put forward for the group (on this session's agenda, with
    ``on_agenda``), made directly as the agenda's own services are another area's."""
    values = {
        "group_id": visit.group_session.group_id,
        "title": title,
        "proposer_id": visit.patient.id,
        "status": ACCEPTED if on_agenda else TOPIC_OPEN,
    }
    values.update(fields)
    topic = AgendaTopic(**values)
    db.session.add(topic)
    db.session.flush()
    if on_agenda:
        db.session.add(AgendaItem(session_id=visit.group_session.id, topic_id=topic.id, minutes=10))
    db.session.commit()
    return topic


def proposed_topics(page) -> str:
    """The "topics they proposed" part of a note's page."""
    match = re.search(
        r"<h3>Topics they proposed for the group</h3>(.*?)</div>", text_of(page), re.S
    )
    assert match, "no topics part on the page"
    return match.group(1)


def test_before_the_visit_the_note_shows_the_open_topics_the_patient_proposed(
    db, create_user, create_group, site, visit, sign_in_as
):
    propose(db, visit, "Eating out on a budget")
    propose(db, visit, "Sleep and sugar", on_agenda=True)
    propose(db, visit, "Shoes that fit", status=KEPT)
    # Not theirs by name: put forward anonymously, even though staff could know who.
    propose(db, visit, "Feeling low about my weight", shown_as=ANONYMOUS)
    propose(db, visit, "Hidden by staff", hidden_at=visit.group_session.starts_at)
    propose(db, visit, "Declined one", status=DECLINED, decline_reason="Covered last month")
    propose(db, visit, "Talked about long ago", status=DISCUSSED)
    propose(db, visit, "A question for today", kind=QUESTION)
    propose(db, visit, "Another patient's", proposer_id=create_user(PATIENT).id)
    propose(db, visit, "Another group's", group_id=create_group(site, rule=None).id)

    page = sign_in_as(visit.provider).get(f"/notes/{written(db, visit).id}")
    shown = proposed_topics(page)

    assert page.status_code == 200
    assert "Eating out on a budget" in shown and "Open for votes" in shown
    assert "Sleep and sugar" in shown and "On this session's agenda" in shown
    assert shown.index("Sleep and sugar") < shown.index("Eating out on a budget")
    assert "Shoes that fit" in shown and "Kept for later" in shown  # still open to votes
    for hidden in (
        "Feeling low about my weight",
        "Hidden by staff",
        "Declined one",
        "Talked about long ago",
        "A question for today",
        "Another patient",
        "Another group",
    ):
        assert hidden not in text_of(page), hidden


def test_a_topic_proposed_anonymously_never_shows_as_the_patients(db, visit, sign_in_as):
    propose(db, visit, "Fear of needles", shown_as=ANONYMOUS)
    propose(db, visit, "Fear of hypos", shown_as=ANONYMOUS, on_agenda=True)
    note = signed(db, visit)

    for reader in (visit.provider, visit.preceptor):
        page = sign_in_as(reader).get(f"/notes/{note.id}")
        assert page.status_code == 200
        assert "Fear of needles" not in text_of(page) and "Fear of hypos" not in text_of(page)
        assert "No open topics of theirs." in proposed_topics(page)


def test_only_those_who_read_the_note_see_the_topics_before_the_visit(
    db, create_user, site, other_site, visit, sign_in_as, coordinator
):
    propose(db, visit, "Cooking for one")
    note = signed(db, visit)
    url = f"/notes/{note.id}"
    colleague = clinician(create_user, "dietitian", sites=[site])
    elsewhere = clinician(create_user, "dietitian", sites=[other_site])

    assert "Cooking for one" in text_of(sign_in_as(colleague).get(url))
    assert sign_in_as(elsewhere).get(url).status_code == 404
    assert sign_in_as(coordinator).get(url).status_code == 403
    assert sign_in_as(visit.patient).get(url).status_code == 403


def test_no_page_title_names_the_groups_condition(db, visit, sign_in_as):
    note = signed(db, visit)
    attending = sign_in_as(visit.preceptor)

    for url in (f"/notes/{note.id}", "/attestations", "/my/encounters"):
        title = title_of(attending.get(url))
        assert "diabetes" not in title.lower() and visit.patient.family_name not in title


def test_the_clinicians_home_says_first_what_notes_wait_for_them(
    db, create_user, group, sign_in_as, count_queries
):
    resident, attending = notes_for(db, create_user, group, 8)

    home = text_of(sign_in_as(resident).get("/"))
    assert home.index("Waiting for you") < home.index("My next sessions")
    assert "2 notes returned to you" in home and "2 draft notes" in home
    assert "to attest" not in home
    attending_home = text_of(sign_in_as(attending).get("/"))
    assert "2 notes to attest" in attending_home and "returned to you" not in attending_home
    quiet = text_of(sign_in_as(clinician(create_user, "nurse_practitioner")).get("/"))
    assert "Waiting for you" not in quiet

    client = sign_in_as(resident)
    client.get("/")
    with count_queries() as few:
        client.get("/")
    notes_for(db, create_user, group, 8)
    with count_queries() as more:
        client.get("/")
    assert more.count == few.count
