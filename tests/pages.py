"""Pages for parents built from the shipped agreements, for the page and browser tests."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.agreements import BUNDLED_AGREEMENTS, load_agreements
from lineage.inzage import InzageReport, build_inzage
from lineage.rights import PupilDelivery

ECKID = "https://ketenid.nl/201703/" + "a1b2c3d4" * 16


def inzage_report() -> InzageReport:
    """A pupil delivered to basispoort, with today's values: a long ECK iD, a girl."""
    agreements = {a.agreement.id: a.agreement for a in load_agreements(BUNDLED_AGREEMENTS)}
    delivery = PupilDelivery(
        delivery_id="d1",
        supplier="basispoort",
        school="27ZX",
        created_at=datetime(2026, 11, 14, 2, 0, tzinfo=UTC),
        fields=tuple(agreements["basispoort"].field_names),
        agreement_reference="VO Basispoort",
        status="delivered",
    )
    values = {
        "eckid": ECKID,
        "roepnaam": "Anne-Fleur",
        "achternaam": "Jansen",
        "geboortedatum": "2019-03-01",
        "geslacht": "2",
        "brincode": "27ZX",
    }
    return build_inzage(
        leerlingkey="100234",
        school="27ZX",
        school_name="RKBS de Flint",
        deliveries=[delivery],
        agreements=agreements,
        erasure=None,
        latest_delivery={"basispoort": "d1"},
        status_now={"basispoort": "delivered"},
        current_values={"basispoort": values},
    )
