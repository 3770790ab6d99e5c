import pytest

from tenants.validators import is_valid_lg_code, lg_code_check_digit


@pytest.mark.parametrize("code", ["412015", "412104", "131016", "011002", "200000", "220001", "472018"])
def test_real_codes_are_valid(code):
    # 佐賀市, 神埼市, 千代田区, 札幌市, 長野県 (remainder 1 → 0), 静岡県 (remainder 0 → 1), 那覇市
    assert is_valid_lg_code(code)


@pytest.mark.parametrize("code", ["412016", "41201", "4120155", "41201a", "", "４１２０１５", None])
def test_bad_codes_are_refused(code):
    assert not is_valid_lg_code(code)


def test_check_digit_edge_remainders():
    assert lg_code_check_digit("20000") == 0  # weighted sum 12, remainder 1
    assert lg_code_check_digit("22000") == 1  # weighted sum 22, remainder 0
