"""Tests of evalkit.idcode: the henkilötunnus check character and calendar date."""

import pandas as pd
import pytest

from evalkit.idcode import CHECK_CHARS, contains_code, generate_codes, is_code, scan_frame

# DVV's published example code: 131052-308T (13 Oct 1952, individual number 308)
EXAMPLE = "131052-308T"


def test_published_example_and_check_character():
    assert is_code(EXAMPLE)
    assert CHECK_CHARS[131052308 % 31] == "T"


@pytest.mark.parametrize(
    "value",
    [
        "131052-308U",  # wrong check character
        "310252-308T",  # 31 Feb is no date (check char irrelevant)
        "131352-308T",  # month 13
        "131052Q308T",  # Q is no century sign
        "2019-12-31",  # a date
        "C131052308T",  # no century sign: a pseudonym
        "9131052-308T",  # inside a longer run of digits
    ],
)
def test_non_codes(value):
    assert not is_code(value)


@pytest.mark.parametrize("value", ["X131052-308T", "hetu131052-308T", "131052-308Tabc", "131052a308t"])
def test_a_code_touching_letters_or_in_lower_case_is_still_a_code(value):
    # issue 14: "hetu311219F986C" passed the guard when letters touching a code made it "part of an id"
    assert is_code(value)


def test_every_century_sign_and_lowercase():
    for sign in "+-YXWVUABCDEF":
        # 010100 with individual number 123: check char from 10100123 % 31
        code = f"010100{sign}123{CHECK_CHARS[10100123 % 31]}"
        assert is_code(code), code
    assert is_code(EXAMPLE.lower())


def test_leap_day_needs_leap_year():
    # 29 Feb 2000 (A) exists, 29 Feb 1900 (-) does not
    stem = "290200"
    char = CHECK_CHARS[int(stem + "123") % 31]
    assert is_code(f"{stem}A123{char}")
    assert not is_code(f"{stem}-123{char}")


def test_generated_codes_are_valid_and_varied():
    codes = generate_codes(500, seed=3)
    assert all(is_code(c) for c in codes)
    assert len(set(codes)) > 490
    assert generate_codes(500, seed=3) == codes


def test_vectorised_mask_keeps_index_and_ignores_non_text():
    s = pd.Series(["K1", None, f"id {EXAMPLE} here", EXAMPLE, "K2"], index=[10, 11, 12, 13, 14])
    mask = contains_code(s)
    assert mask.index.tolist() == [10, 11, 12, 13, 14]
    assert mask.tolist() == [False, False, True, True, False]
    assert not contains_code(pd.Series([131052308, 1.5])).any()
    assert not contains_code(pd.to_datetime(pd.Series(["2020-01-01"]))).any()


def test_scan_frame_on_many_repeated_values():
    df = pd.DataFrame({"case_id": ["C1", "C2"] * 50_000, "note": ["x"] * 100_000})
    df.loc[77_777, "note"] = generate_codes(1, seed=9)[0]
    found = scan_frame(df)
    assert list(found) == ["note"]
    assert found["note"].sum() == 1 and found["note"][77_777]


def test_mixed_object_column():
    s = pd.Series(["K1", 5, None, EXAMPLE, 2.5], dtype=object)
    assert contains_code(s).tolist() == [False, False, False, True, False]
    assert not contains_code(pd.Series([1, 2], dtype=object)).any()
