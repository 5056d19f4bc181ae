"""The roster CSV neutralises every cell a spreadsheet would read as a formula."""

import csv
import io

import pytest

from groupvisits.accounts.models import PATIENT
from groupvisits.roster import services as roster

#: What makes a spreadsheet read a cell as a formula (or hide one behind a line break).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Columns of the CSV whose text a person typed.
FREE_TEXT_COLUMNS = (
    "family_name",
    "given_name",
    "preferred_name",
    "email",
    "phone",
    "preferred_language",
    "dietary_needs",
    "accessibility_needs",
)


@pytest.mark.parametrize("start", FORMULA_STARTS, ids=repr)
def test_roster_csv_neutralises_free_text_starting_like_a_formula(
    db, coordinator_client, coordinator, create_group, create_user, site, start
):
    group = create_group(site, min_members=1, target_members=2, max_members=2)
    patient = create_user(PATIENT, password=None)
    typed = {
        "family_name": f"{start}Garcia",
        "given_name": f"{start}Maria",
        "preferred_name": f"{start}cmd|' /C calc'!A0",
        "email": f"{start}maria@clinic.example.org",
        "phone": f"{start}1 555 0107",
    }
    profile_typed = {
        "preferred_language": f"{start}Spanish",
        "dietary_needs": f'{start}HYPERLINK("http://evil.example","diet")',
        "accessibility_needs": f"{start}SUM(1+1)*cmd|' /C calc'!A0",
    }
    # Set on the rows directly: forms trim some fields, imports and other paths may not.
    for name, value in typed.items():
        setattr(patient, name, value)
    for name, value in profile_typed.items():
        setattr(patient.patient_profile, name, value)
    roster.enrol(group, patient, actor=coordinator)
    db.session.commit()

    response = coordinator_client.get(f"/groups/{group.id}/roster.csv")

    assert response.status_code == 200
    [row] = csv.DictReader(io.StringIO(response.get_data(as_text=True), newline=""))
    for column in FREE_TEXT_COLUMNS:
        assert row[column] == "'" + {**typed, **profile_typed}[column], column
