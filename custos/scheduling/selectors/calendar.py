"""A week of one practitioner or one resource, as rows of time slots by columns of days.

Slots taken by an appointment the actor may not see show as busy without any detail, so
that the grid never offers a time that booking would refuse. Times are in the current
time zone (the member's own, in the web UI).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from custos.core.actor import Actor
from custos.scheduling.models import ACTIVE_STATUSES, Appointment, Practitioner, Resource
from custos.scheduling.selectors.appointments import visible_appointments

SLOT_MINUTES = 30
FIRST_HOUR = 7
LAST_HOUR = 20  # the grid ends here unless an appointment runs later


@dataclass
class Cell:
    day: date
    starts_at: datetime
    appointments: list[Appointment] = field(default_factory=list)  # visible ones starting in this slot
    hidden_count: int = 0  # ones starting here that the actor may not see
    busy: bool = False  # taken by any appointment, wherever it started
    is_past: bool = False

    @property
    def bookable(self) -> bool:
        return not self.busy and not self.is_past


@dataclass
class Row:
    label: time
    cells: list[Cell]


@dataclass
class Week:
    monday: date
    days: list[date]
    today: date
    rows: list[Row]

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)

    @property
    def sunday(self) -> date:
        return self.days[-1]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _at(day: date, minutes: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min) + timedelta(minutes=minutes))


def week_calendar(
    actor: Actor,
    *,
    week_of: date,
    practitioner: Practitioner | None = None,
    resource: Resource | None = None,
    now: datetime | None = None,
) -> Week:
    """The week holding `week_of` for the practitioner or the resource."""
    actor.require("appointment.view")
    now = now or timezone.now()
    monday = monday_of(week_of)
    days = [monday + timedelta(days=offset) for offset in range(7)]
    start, end = _at(monday, 0), _at(monday + timedelta(days=7), 0)
    taken = Appointment.objects.filter(status__in=ACTIVE_STATUSES, starts_at__lt=end, ends_at__gt=start)
    if practitioner is not None:
        taken = taken.filter(practitioner=practitioner)
    elif resource is not None:
        taken = taken.filter(resource=resource)
    else:
        taken = taken.none()
    intervals = list(taken.order_by("starts_at").values_list("pk", "starts_at", "ends_at"))
    shown = {
        appointment.pk: appointment
        for appointment in visible_appointments(actor).filter(pk__in=[pk for pk, _start, _end in intervals])
    }
    first, last = FIRST_HOUR * 60, LAST_HOUR * 60
    for _pk, starts_at, ends_at in intervals:
        local_start, local_end = timezone.localtime(starts_at), timezone.localtime(ends_at)
        first = min(first, local_start.hour * 60 + local_start.minute)
        if local_end.date() == local_start.date():
            last = max(last, math.ceil((local_end.hour * 60 + local_end.minute) / SLOT_MINUTES) * SLOT_MINUTES)
        else:
            last = 24 * 60
            if local_end.time() != time.min and monday <= local_end.date() <= days[-1]:
                first = 0  # it runs on past midnight into a day shown: its early hours there are taken
    first -= first % SLOT_MINUTES
    rows = []
    for minutes in range(first, last, SLOT_MINUTES):
        cells = []
        for day in days:
            slot_start, slot_end = _at(day, minutes), _at(day, minutes + SLOT_MINUTES)
            cell = Cell(day=day, starts_at=slot_start, is_past=slot_end <= now)
            for pk, starts_at, ends_at in intervals:
                if starts_at < slot_end and ends_at > slot_start:
                    cell.busy = True
                if slot_start <= starts_at < slot_end:
                    if pk in shown:
                        cell.appointments.append(shown[pk])
                    else:
                        cell.hidden_count += 1
            cells.append(cell)
        rows.append(Row(label=time(minutes // 60, minutes % 60), cells=cells))
    return Week(monday=monday, days=days, today=timezone.localdate(now), rows=rows)
