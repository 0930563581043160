import pytest

from tooluse_envs.answers import number_answer_correct, parse_number, split_items, text_answer_correct, values_match


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42.0),
        ("1,234.5", 1234.5),
        ("$1,234", 1234.0),
        ("3/4", 0.75),
        (r"\frac{3}{4}", 0.75),
        (r"\$12.50", 12.5),
        ("12.50 dollars", 12.5),
        ("-7", -7.0),
        ("−7", -7.0),
        ("1e3", 1000.0),
        ("50%", 0.5),
        ("0.75.", 0.75),
    ],
)
def test_reads_numbers_as_written(text, value):
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "1,23", "", "1/0", "12 34"])
def test_rejects_non_numbers(text):
    assert parse_number(text) is None


def test_unrounded_number_answers_get_only_a_float_noise_tolerance():
    assert number_answer_correct("191,078.28", 191078.28)
    assert number_answer_correct("0.3333333333", 1 / 3)
    assert not number_answer_correct("0.3333", 1 / 3)
    assert not number_answer_correct("0.33", 1 / 3)
    assert not number_answer_correct(None, 1.0)
    assert number_answer_correct("25%", 25.0)


def test_lists_compare_as_multisets_unless_ordered():
    assert values_match("Smith, Jones", ["Jones", "Smith"])
    assert not values_match("Smith, Smith", ["Jones", "Smith"])
    assert values_match("1,234; 5", [1234, 5])
    assert not values_match("b, a", ["a", "b"], ordered=True)
    assert values_match("a, b", ["a", "b"], ordered=True)
    assert split_items("[x, y]") == ["x", "y"]


def test_text_answers_normalise_case_punctuation_and_articles():
    assert text_answer_correct("The Eiffel Tower.", "eiffel tower")
    assert text_answer_correct("Paris", ["Lutetia", "paris"])
    assert not text_answer_correct("London", "Paris")


def test_a_stated_precision_makes_the_check_exact():
    # "to the cent" on $1.16M: a relative tolerance of 1e-4 used to accept ±$115
    assert number_answer_correct("1,160,482.17", 1160482.17, decimals=2)
    assert number_answer_correct("$1160482.170", 1160482.17, decimals=2)
    assert not number_answer_correct("1160482.1712", 1160482.17, decimals=2)
    assert not number_answer_correct("1160482.18", 1160482.17, decimals=2)
    # ceil/floor tasks: the unrounded quotient is wrong
    assert number_answer_correct("37", 37.0, decimals=0)
    assert number_answer_correct("37.0", 37.0, decimals=0)
    assert not number_answer_correct("36.32398384", 37.0, decimals=0)
    assert number_answer_correct("12.5%", 12.5, decimals=1)
    assert number_answer_correct("1/2", 0.5, decimals=1)


@pytest.mark.parametrize("text", ["1e999999999", "9" * 5000, "1/" + "7" * 5000, "-" + "1" * 300])
def test_huge_numbers_are_not_numbers(text):
    assert parse_number(text) is None
    assert not number_answer_correct(text, 1.0, decimals=0)
