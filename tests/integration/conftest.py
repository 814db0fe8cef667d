"""Fixtures shared by the integration tests."""
from __future__ import annotations

import pytest


@pytest.fixture
def orgs(factory):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services", assets=["192.0.2.0/24", "firstbank.example"])
    bank2 = factory.org("Second Bank", sector="financial-services")
    telco = factory.org("TelcoNet", sector="telecommunications", assets=["AS64500"])
    return {"cert": cert, "bank": bank, "bank2": bank2, "telco": telco}
