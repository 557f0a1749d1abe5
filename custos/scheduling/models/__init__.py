"""Appointments and what they are made of. One module per aggregate; Django finds them all here."""

from custos.scheduling.models.appointments import ACTIVE_STATUSES, Appointment, Recall
from custos.scheduling.models.catalogue import FeedDetail, Practitioner, Resource, SchedulingSettings, Service
from custos.scheduling.models.feeds import CalendarFeed

__all__ = [
    "ACTIVE_STATUSES",
    "Appointment",
    "CalendarFeed",
    "FeedDetail",
    "Practitioner",
    "Recall",
    "Resource",
    "SchedulingSettings",
    "Service",
]
