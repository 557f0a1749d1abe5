"""The privacy engine's records: subjects, purposes and consent, requests, suppression,
legal holds and kept records, retention, breaches, processors and portal links."""

from custos.privacy.models.breaches import Breach, BreachSubject
from custos.privacy.models.consent import ConsentEvent, Purpose, PurposeVersion
from custos.privacy.models.holds import KeptRecord, LegalHold
from custos.privacy.models.portal import PortalLink
from custos.privacy.models.processors import Processor, RecipientNotice
from custos.privacy.models.requests import PrivacyRequest, PrivacySettings
from custos.privacy.models.retention import RetentionPolicy, RetentionRun
from custos.privacy.models.subjects import Subject, new_reference
from custos.privacy.models.suppression import Suppression

__all__ = [
    "Breach",
    "BreachSubject",
    "ConsentEvent",
    "KeptRecord",
    "LegalHold",
    "PortalLink",
    "PrivacyRequest",
    "PrivacySettings",
    "Processor",
    "Purpose",
    "PurposeVersion",
    "RecipientNotice",
    "RetentionPolicy",
    "RetentionRun",
    "Subject",
    "Suppression",
    "new_reference",
]
