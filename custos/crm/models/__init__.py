"""The CRM's records. One module per aggregate; Django finds them all here."""

from custos.crm.models.activities import Activity
from custos.crm.models.custom_fields import CustomField, CustomValueRemoval
from custos.crm.models.deals import Deal, DealStageChange, Pipeline, Stage
from custos.crm.models.forms import LeadForm, LeadFormSubmission
from custos.crm.models.imports import ImportJob, ImportJournalEntry, ImportMapping, ImportRejectedRow
from custos.crm.models.leads import Lead
from custos.crm.models.people import Affiliation, Company, Contact, ContactPoint
from custos.crm.models.rules import AssignmentRule, RepCapacity, ScoringRule

__all__ = [
    "Activity",
    "Affiliation",
    "AssignmentRule",
    "Company",
    "Contact",
    "ContactPoint",
    "CustomField",
    "CustomValueRemoval",
    "Deal",
    "DealStageChange",
    "ImportJob",
    "ImportJournalEntry",
    "ImportMapping",
    "ImportRejectedRow",
    "Lead",
    "LeadForm",
    "LeadFormSubmission",
    "Pipeline",
    "RepCapacity",
    "ScoringRule",
    "Stage",
]
