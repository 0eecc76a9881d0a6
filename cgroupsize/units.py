"""Sizes: the binary units and the one formatter every note and report uses."""
from __future__ import annotations

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

_SHORT = (("Ei", 1 << 60), ("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", GiB), ("Mi", MiB), ("Ki", KiB))


def fmt_size(n: int | None, long: bool = False) -> str:
    """``536870912`` -> ``512Mi`` (``512 MiB`` with ``long``); ``1610612736`` -> ``1.5Gi``.

    One decimal at most, none from 100 up; ``-`` for an unknown figure.
    """
    if n is None:
        return "-"
    for unit, factor in _SHORT:
        if abs(n) >= factor:
            value = n / factor
            text = f"{value:.1f}".rstrip("0").rstrip(".") if value < 100 else str(round(value))
            return f"{text} {unit}B" if long else text + unit
    return f"{n} B" if long else f"{n}B"


def leading_numbers(text: str, sep: str) -> list[int]:
    """``"11.0.16.1+1"`` -> ``[11, 0, 16]``... the numbers before the first non-number part."""
    numbers = []
    for part in text.split(sep):
        digits = ""
        for c in part:
            if not ("0" <= c <= "9"):
                break
            digits += c
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) < len(part):
            break
    return numbers
