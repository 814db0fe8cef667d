"""A smishing number seen by a telecom and a bank: the number, every way a person writes it (to
prove it appears nowhere a member reads), and the reports that raise the warning."""
from __future__ import annotations

import re

SMISHING_NUMBER = "+84912345678"  # normalized (E.164)
UNREPORTED_NUMBER = "+84987654321"


def number_spellings(e164: str) -> list[str]:
    """``e164`` as it may be written: international, national (VN), grouped, dashed, bare digits.
    The national significant number alone is among them, so any spelling containing it is caught."""
    country, national = e164[1:3], e164[3:]
    groups = re.findall(r".{1,3}", national)
    return sorted({e164, e164[1:], f"+{country} {' '.join(groups)}", f"0{national}", f"0{' '.join(groups)}",
                   national, " ".join(groups), "-".join(groups), ".".join(groups),
                   f"00{country}{national}", f"{national[:2]} {national[2:5]} {national[5:]}"})
