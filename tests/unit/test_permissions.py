"""Access predicates: who may see and manage which patients, people and sites."""

import pytest
from flask_login import AnonymousUserMixin

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.permissions import (
    can_edit_own_profile,
    can_manage_site,
    can_manage_user,
    can_see_meeting_details,
    can_view_audit,
    can_view_patient,
    meeting_details_group_ids,
    serves_site,
)


@pytest.fixture
def people(site, other_site, create_user, db):
    """Staff and patients at ``site`` and at ``other_site``, and one deactivated coordinator."""
    everyone = {
        "coordinator": create_user(COORDINATOR, sites=[site]),
        "clinician": create_user(CLINICIAN, sites=[site]),
        "patient": create_user(PATIENT, sites=[site]),
        "fellow_patient": create_user(PATIENT, sites=[site]),
        "other_coordinator": create_user(COORDINATOR, sites=[other_site]),
        "other_clinician": create_user(CLINICIAN, sites=[other_site]),
        "other_patient": create_user(PATIENT, sites=[other_site]),
        "two_site_coordinator": create_user(COORDINATOR, sites=[site, other_site]),
        "deactivated_coordinator": create_user(COORDINATOR, sites=[site]),
    }
    everyone["deactivated_coordinator"].active = False
    db.session.commit()
    return everyone


ANONYMOUS = AnonymousUserMixin()


class TestCanViewPatient:
    def test_patient_sees_themself(self, people):
        assert can_view_patient(people["patient"], people["patient"])

    def test_patient_does_not_see_another_patient_of_their_site(self, people):
        assert not can_view_patient(people["patient"], people["fellow_patient"])

    @pytest.mark.parametrize("staff", ["coordinator", "clinician", "two_site_coordinator"])
    def test_staff_of_the_patients_site_see_the_patient(self, people, staff):
        assert can_view_patient(people[staff], people["patient"])

    @pytest.mark.parametrize("staff", ["other_coordinator", "other_clinician"])
    def test_staff_of_another_site_do_not_see_the_patient(self, people, staff):
        assert not can_view_patient(people[staff], people["patient"])

    def test_deactivated_staff_see_no_patient(self, people):
        assert not can_view_patient(people["deactivated_coordinator"], people["patient"])

    def test_anonymous_sees_no_patient(self, people):
        assert not can_view_patient(ANONYMOUS, people["patient"])

    def test_staff_accounts_are_not_patients(self, people):
        assert not can_view_patient(people["coordinator"], people["clinician"])
        assert not can_view_patient(people["clinician"], people["clinician"])


class TestCanManageUser:
    @pytest.mark.parametrize("other", ["patient", "clinician", "coordinator"])
    def test_coordinator_manages_people_of_their_site(self, people, other):
        assert can_manage_user(people["coordinator"], people[other])

    def test_coordinator_of_two_sites_manages_people_of_both(self, people):
        assert can_manage_user(people["two_site_coordinator"], people["patient"])
        assert can_manage_user(people["two_site_coordinator"], people["other_patient"])

    @pytest.mark.parametrize("other", ["other_patient", "other_clinician", "other_coordinator"])
    def test_coordinator_does_not_manage_people_of_another_site(self, people, other):
        assert not can_manage_user(people["coordinator"], people[other])

    @pytest.mark.parametrize("actor", ["clinician", "patient"])
    def test_only_coordinators_manage_people(self, people, actor):
        assert not can_manage_user(people[actor], people["fellow_patient"])
        assert not can_manage_user(people[actor], people[actor])

    def test_deactivated_coordinator_manages_no_one(self, people):
        assert not can_manage_user(people["deactivated_coordinator"], people["patient"])

    def test_anonymous_manages_no_one(self, people):
        assert not can_manage_user(ANONYMOUS, people["patient"])


class TestSiteRules:
    def test_coordinator_manages_and_serves_their_site(self, people, site):
        assert can_manage_site(people["coordinator"], site)
        assert serves_site(people["coordinator"], site)
        assert serves_site(people["coordinator"], site.id)

    def test_clinician_serves_but_does_not_manage_their_site(self, people, site):
        assert serves_site(people["clinician"], site)
        assert not can_manage_site(people["clinician"], site)

    @pytest.mark.parametrize("staff", ["other_coordinator", "other_clinician"])
    def test_staff_of_another_site_neither_serve_nor_manage(self, people, site, staff):
        assert not serves_site(people[staff], site)
        assert not serves_site(people[staff], site.id)
        assert not can_manage_site(people[staff], site)

    def test_patient_of_a_site_does_not_serve_it(self, people, site):
        assert not serves_site(people["patient"], site)
        assert not can_manage_site(people["patient"], site)

    def test_deactivated_coordinator_neither_serves_nor_manages(self, people, site):
        assert not serves_site(people["deactivated_coordinator"], site)
        assert not can_manage_site(people["deactivated_coordinator"], site)

    def test_anonymous_neither_serves_nor_manages(self, site):
        assert not serves_site(ANONYMOUS, site)
        assert not can_manage_site(ANONYMOUS, site)


class TestCanViewAudit:
    def test_coordinator_reads_the_audit_trail_of_their_site(self, people, site, other_site):
        assert can_view_audit(people["coordinator"], site)
        assert not can_view_audit(people["coordinator"], other_site)

    def test_coordinator_of_two_sites_reads_both(self, people, site, other_site):
        assert can_view_audit(people["two_site_coordinator"], site)
        assert can_view_audit(people["two_site_coordinator"], other_site)

    @pytest.mark.parametrize(
        "actor", ["clinician", "patient", "other_coordinator", "deactivated_coordinator"]
    )
    def test_others_do_not_read_the_audit_trail(self, people, site, actor):
        assert not can_view_audit(people[actor], site)

    def test_anonymous_does_not_read_the_audit_trail(self, site):
        assert not can_view_audit(ANONYMOUS, site)


class TestCanEditOwnProfile:
    def test_patient_edits_their_own_profile(self, people):
        assert can_edit_own_profile(people["patient"], people["patient"])

    def test_patient_does_not_edit_another_patients_profile(self, people):
        assert not can_edit_own_profile(people["patient"], people["fellow_patient"])

    @pytest.mark.parametrize("staff", ["coordinator", "clinician"])
    def test_staff_do_not_edit_a_patients_own_profile(self, people, staff):
        assert not can_edit_own_profile(people[staff], people["patient"])
        assert not can_edit_own_profile(people[staff], people[staff])

    def test_deactivated_patient_cannot_edit_their_profile(self, people, db):
        people["patient"].active = False
        db.session.commit()
        assert not can_edit_own_profile(people["patient"], people["patient"])
        assert not can_view_patient(people["patient"], people["patient"])

    def test_anonymous_edits_no_profile(self, people):
        assert not can_edit_own_profile(ANONYMOUS, people["patient"])


class TestCanSeeMeetingDetails:
    """Room, video link and calendar file: staff of the site, members who accepted the agreement."""

    @pytest.fixture
    def full_group(self, db, people, create_group, create_user):
        from groupvisits.roster import services as roster

        group = create_group(rule=None, min_members=1, target_members=1, max_members=1)
        roster.enrol(group, people["patient"], actor=None)
        roster.enrol(group, people["fellow_patient"], actor=None)  # waits: the group is full
        db.session.commit()
        return group

    @pytest.mark.parametrize("staff", ["coordinator", "clinician", "two_site_coordinator"])
    def test_staff_of_the_site_see_them(self, people, full_group, staff):
        assert can_see_meeting_details(people[staff], full_group)

    @pytest.mark.parametrize(
        "actor", ["other_coordinator", "other_clinician", "deactivated_coordinator"]
    )
    def test_staff_elsewhere_and_deactivated_staff_do_not(self, people, full_group, actor):
        assert not can_see_meeting_details(people[actor], full_group)

    def test_a_member_sees_them_while_the_group_has_no_agreement(self, people, full_group):
        assert can_see_meeting_details(people["patient"], full_group)

    def test_a_member_sees_them_once_the_current_agreement_is_accepted(
        self, db, people, full_group, coordinator
    ):
        from groupvisits.roster import services as roster

        member = people["patient"]
        first = roster.publish_agreement(full_group, "Version one.", actor=coordinator)
        db.session.commit()
        assert not can_see_meeting_details(member, full_group)
        roster.accept_agreement(first, member, actor=member, share_name=True)
        db.session.commit()
        assert can_see_meeting_details(member, full_group)
        roster.publish_agreement(full_group, "Version two.", actor=coordinator)
        db.session.commit()
        assert not can_see_meeting_details(member, full_group)

    def test_someone_waiting_does_not_even_with_the_agreement_accepted(
        self, db, people, full_group, coordinator
    ):
        from groupvisits.roster import services as roster

        waiting = people["fellow_patient"]
        agreement = roster.publish_agreement(full_group, "Version one.", actor=coordinator)
        roster.accept_agreement(agreement, waiting, actor=waiting, share_name=True)
        db.session.commit()
        assert not can_see_meeting_details(waiting, full_group)

    def test_patients_outside_the_group_and_anonymous_do_not(self, people, full_group):
        assert not can_see_meeting_details(people["other_patient"], full_group)
        assert not can_see_meeting_details(ANONYMOUS, full_group)

    def test_many_groups_cost_one_query(self, db, people, create_group, count_queries):
        from groupvisits.roster import services as roster

        groups = [create_group(rule=None) for _ in range(3)]
        for group in groups[:2]:
            roster.enrol(group, people["patient"], actor=None)
        db.session.commit()
        assert people["patient"].is_patient and all(group.id for group in groups)
        with count_queries() as counter:
            shown = meeting_details_group_ids(people["patient"], groups)
        assert shown == {groups[0].id, groups[1].id}
        assert counter.count == 1
