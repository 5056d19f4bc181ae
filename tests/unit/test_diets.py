"""Dietary needs typed as free text become the list's codes; anything else stays as typed."""

import pytest

from groupvisits.accounts.diets import (
    DIETARY_NEEDS,
    normalise_dietary_text,
    read_codes,
    stored_codes,
)


@pytest.mark.parametrize(
    ("typed", "codes", "other"),
    [
        ("", [], ""),
        ("none", [], ""),
        ("N/A", [], ""),
        ("low salt", ["low_sodium"], ""),
        ("Low-Sodium diet", ["low_sodium"], ""),
        ("no added salt", ["low_sodium"], ""),
        ("diabetic diet", ["diabetic"], ""),
        ("Low sugar", ["diabetic"], ""),
        ("diabetic-friendly", ["diabetic"], ""),
        ("veggie", ["vegetarian"], ""),
        ("Vegetarian only", ["vegetarian"], ""),
        ("no gluten", ["gluten_free"], ""),
        ("Coeliac", ["gluten_free"], ""),
        ("celiac disease", ["gluten_free"], ""),
        ("gluten-free", ["gluten_free"], ""),
        ("strict halal", ["halal"], ""),
        ("Kosher meals", ["kosher"], ""),
        ("veggie, low salt", ["low_sodium", "vegetarian"], ""),
        ("halal and low sugar", ["diabetic", "halal"], ""),
        ("low salt; no nuts", ["low_sodium"], "no nuts"),
        ("Vegetarian, no nuts / no shellfish", ["vegetarian"], "no nuts, no shellfish"),
        ("vegan", [], "vegan"),
        ("no pork", [], "no pork"),
        # Nothing recognised: kept exactly as typed, commas and all.
        ("no nuts, soft food", [], "no nuts, soft food"),
        (
            '=HYPERLINK("http://evil.example","diet")',
            [],
            '=HYPERLINK("http://evil.example","diet")',
        ),
    ],
)
def test_free_text_becomes_codes_and_other_text(typed, codes, other):
    assert normalise_dietary_text(typed) == (codes, other)


def test_codes_are_stored_in_list_order_once_each():
    assert stored_codes(["vegetarian", "low_sodium", "vegetarian"]) == "low_sodium,vegetarian"
    assert stored_codes([]) == ""


def test_only_a_list_of_known_codes_reads_as_codes():
    assert read_codes("") == []
    assert read_codes("vegetarian,low_sodium") == ["low_sodium", "vegetarian"]
    assert read_codes("vegetarian") == ["vegetarian"]
    assert read_codes("low salt") is None
    assert read_codes("vegetarian, no nuts") is None


def test_every_code_maps_from_its_own_label():
    for code, label in DIETARY_NEEDS.items():
        assert normalise_dietary_text(label) == ([code], "")
