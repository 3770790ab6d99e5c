"""Validation of 全国地方公共団体コード (JIS X 0402 local government codes with check digit)."""
from __future__ import annotations

from django.core.exceptions import ValidationError

_WEIGHTS = (6, 5, 4, 3, 2)


def lg_code_check_digit(first_five: str) -> int:
    """Check digit of a 5-digit code: 11 minus the weighted sum mod 11, last digit only
    (remainder 0 gives 1, remainder 1 gives 0), as the Ministry's specification says."""
    total = sum(int(digit) * weight for digit, weight in zip(first_five, _WEIGHTS))
    return (11 - total % 11) % 10


def is_valid_lg_code(code: str) -> bool:
    return (
        isinstance(code, str)
        and len(code) == 6
        and code.isascii()
        and code.isdigit()
        and lg_code_check_digit(code[:5]) == int(code[5])
    )


def validate_lg_code(code: str) -> None:
    if not is_valid_lg_code(code):
        raise ValidationError(
            "全国地方公共団体コードは検査数字付きの6桁です（例: 佐賀市 412015）。"
            " / The local government code must be 6 digits with a valid check digit (e.g. 412015).",
            code="invalid_lg_code",
        )
