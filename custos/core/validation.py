"""Checks shared by every face and import: each returns a cleaned value or a FieldError."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
import stdnum
import stdnum.exceptions
from babel.core import get_global
from babel.numbers import get_territory_currencies
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from custos.core.errors import FieldError

# PostgreSQL cannot store NUL, and control characters in names are never intended: nor C1
# controls, nor the bidirectional overrides that make a name read as another ("\u202egnp.exe"),
# nor a lone UTF-16 surrogate (JSON may escape one, "\ud800"), which no text holds and no
# database driver or response can encode.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202d\u202e\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Line breaks, besides \n and \r: a one-line text holds none.
_BREAKS = ("\n", "\r", "\u2028", "\u2029")
AMBIGUOUS = gettext_lazy("Write this number without a thousands separator (such as 1500), or with one or two decimals.")
TAG_PATTERN = re.compile(r"^[^\x00-\x1f\x7f\ud800-\udfff]{1,50}$")
FIELD_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
# Money some country pays with today: not a former one (DEM), a metal (XAU) or a code kept
# for tests (XTS), which an invoice or a deal cannot be in.
CURRENCIES = frozenset(
    code
    for territory in get_global("territory_currencies")
    for code in get_territory_currencies(territory, start_date=dt.date.today(), tender=True)  # noqa: DTZ011
)
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)
_WEBSITE = URLValidator(schemes=["http", "https"])
# VAT prefixes that are not the country's code: Greece writes EL; Northern Ireland's traders
# write XI before a UK number (the EU's rules on goods apply there).
VAT_PREFIXES = {"EL": "gr", "XI": "gb"}


_NUMBER_TEXT = re.compile(r"^[+-]?(\d[\d.,]*|[.,]\d+)$")
_GROUP_SPACES = re.compile(r"(?<=\d)[ \u00a0\u202f'](?=\d)")  # "1 250,50", "1'250.50"


class AmbiguousNumber(ValueError):
    """ "1.500" or "1,500": fifteen hundred in German, one and a half in English."""


def read_number(text: str) -> Decimal:
    """A number as people write it: "1250,50", "1.250,50", "1,250.50", "1 250,50". Where both
    separators appear, the last is the decimal one; one repeated groups thousands. A single
    separator before exactly three digits is `AmbiguousNumber`; anything else not a number,
    `ValueError`."""
    compact = _GROUP_SPACES.sub("", text.strip())
    if not _NUMBER_TEXT.match(compact):
        raise ValueError(text)
    sign, digits = ("-", compact[1:]) if compact[0] in "+-" else ("", compact)
    sign = "" if compact[0] == "+" else sign
    separators = [ch for ch in digits if ch in ".,"]
    if len(set(separators)) == 2:
        decimal_mark = separators[-1]
        if separators.count(decimal_mark) > 1:
            raise ValueError(text)
        grouped, fraction = digits.rsplit(decimal_mark, 1)
        whole = _ungrouped(grouped, "," if decimal_mark == "." else ".", text)
    elif len(separators) > 1:
        whole, fraction = _ungrouped(digits, separators[0], text), ""
    elif separators:
        whole, fraction = digits.split(separators[0])
        if len(fraction) == 3 and whole not in ("", "0"):
            raise AmbiguousNumber(text)
    else:
        whole, fraction = digits, ""
    try:
        return Decimal(f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}")
    except InvalidOperation as error:
        raise ValueError(text) from error


def is_ambiguous(text: str) -> bool:
    try:
        read_number(text)
    except AmbiguousNumber:
        return True
    except ValueError:
        return False
    return False


def _ungrouped(digits: str, mark: str, text: str) -> str:
    head, *groups = digits.split(mark)
    if not head or len(head) > 3 or any(len(group) != 3 for group in groups):
        raise ValueError(text)
    return head + "".join(groups)


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """The time zones settings and profiles take, every face alike: UTC and the zones named
    by a place (Europe/Berlin), not the old aliases and fixed offsets (Etc/GMT+1 is an hour
    behind UTC), whose names mislead."""
    named = (name for name in zoneinfo.available_timezones() if "/" in name and not name.startswith("Etc/"))
    return tuple(sorted({"UTC", *named}))


def printable(text: str) -> str:
    """Text given by the client that an answer repeats (an unknown key as a field's name):
    a lone surrogate, which no response can encode, as the replacement character."""
    return _SURROGATE.sub("\ufffd", text)


def _visible(text: str) -> bool:
    """Whether the text shows anything: not only format characters (zero-width, joiners)."""
    return any(not character.isspace() and unicodedata.category(character) != "Cf" for character in text)


def _is_date_alone(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


class Cleaner:
    """Collects field errors while cleaning one input, so all are reported at once."""

    def __init__(self, index: int | None = None) -> None:
        self.errors: list[FieldError] = []
        self.index = index

    def fail(self, field: str | None, message: str) -> None:
        field = None if field is None else printable(field)
        self.errors.append(FieldError(field=field, message=printable(str(message)), index=self.index))

    def text(self, field: str, value: Any, *, max_length: int, required: bool = False, multiline: bool = False) -> str:
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(field, _("Enter text."))
            return ""
        value = value.strip()
        if required and not _visible(value):  # only spaces or invisible marks (U+200B) is nothing
            self.fail(field, _("This field is required."))
        elif len(value) > max_length:
            self.fail(
                field,
                ngettext(
                    "Use at most %(max)d character (this text has %(len)d).",
                    "Use at most %(max)d characters (this text has %(len)d).",
                    max_length,
                )
                % {"max": max_length, "len": len(value)},
            )
        elif _CONTROL.search(value) or (not multiline and any(mark in value for mark in _BREAKS)):
            self.fail(field, _("Remove the control characters from this text."))
        return value

    def choice(self, field: str, value: Any, choices: Iterable[str], *, default: str | None = None) -> str:
        allowed = list(choices)
        if value in (None, "") and default is not None:
            return default
        if not isinstance(value, str) or value not in allowed:
            self.fail(field, _("Choose one of: %(choices)s.") % {"choices": ", ".join(allowed)})
            return default or ""
        return value

    def integer(self, field: str, value: Any, *, minimum: int, maximum: int, required: bool = False) -> int | None:
        if value is None or value == "":
            if required:
                self.fail(field, _("This field is required."))
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.fail(field, _("Enter a whole number."))
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(field, _("Enter a whole number."))
            return None
        if not minimum <= number <= maximum:
            self.fail(field, _("Enter a number from %(min)d to %(max)d.") % {"min": minimum, "max": maximum})
            return None
        return number

    def money(self, field: str, value: Any, *, maximum: Decimal = Decimal("999999999999.99")) -> Decimal | None:
        """An amount with at most two decimals, given as a number or as text ("1250.50")."""
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            self.fail(field, _("Enter an amount such as 1250.50."))
            return None
        try:
            amount = read_number(value) if isinstance(value, str) else Decimal(str(value))
        except AmbiguousNumber:
            self.fail(field, str(AMBIGUOUS))
            return None
        except (ValueError, InvalidOperation):
            self.fail(field, _("Enter an amount such as 1250.50."))
            return None
        if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
            self.fail(field, _("Enter an amount with at most two decimals."))
            return None
        if not Decimal(0) <= amount <= maximum:
            self.fail(field, _("Enter an amount from 0 to %(max)s.") % {"max": f"{maximum:,.2f}"})
            return None
        return amount.quantize(Decimal("0.01"))

    def currency(self, field: str, value: Any, *, default: str = "EUR") -> str:
        if value in (None, ""):
            return default
        code = value.strip().upper() if isinstance(value, str) else ""
        if code not in CURRENCIES:
            self.fail(field, _("Use a three-letter currency code such as EUR."))
            return default
        return code

    def date(self, field: str, value: Any) -> dt.date | None:
        """A date in ISO form (2026-11-22) or the European one (22.11.2026)."""
        if value is None or value == "":
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = value.isoformat()  # checked as the text it would have been
        text = value.strip() if isinstance(value, str) else ""
        for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
            try:
                day = dt.datetime.strptime(text, pattern).date()  # noqa: DTZ007  (a date, no time)
            except ValueError:
                continue
            if not 1900 <= day.year <= 2999:  # as for moments: year 1 or 9999 is a typing error
                self.fail(field, _("Enter a date between the years 1900 and 2999."))
                return None
            return day
        self.fail(field, _("Enter a date such as 2026-11-22 or 22.11.2026."))
        return None

    def moment(self, field: str, value: Any, *, time_required: bool = False) -> dt.datetime | None:
        """A date and time (ISO 8601); without an offset it is read in the current time zone.
        A date alone is its midnight (a filter's day, a task due that day), unless
        `time_required` (an appointment's start: midnight would be a time nobody gave)."""
        if value is None or value == "":
            return None
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, str):
            text = value.strip()
            try:
                moment = dt.datetime.fromisoformat(text)
            except ValueError:
                self.fail(field, _("Enter a date and time such as 2026-11-22T14:30:00+01:00."))
                return None
            if time_required and _is_date_alone(text):
                self.fail(field, _("Enter a date and time such as 2026-11-22T14:30:00+01:00."))
                return None
        else:
            self.fail(field, _("Enter a date and time such as 2026-11-22T14:30:00+01:00."))
            return None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        if not 1900 <= moment.year <= 2999:
            self.fail(field, _("Enter a date between the years 1900 and 2999."))
            return None
        return moment

    def country(self, field: str, value: Any) -> str:
        """An ISO 3166 country code (DE, PL, …), upper case; empty if not given."""
        failures = len(self.errors)
        text = self.text(field, value, max_length=2)
        if not text or len(self.errors) > failures:
            return ""
        code = text.upper()
        if code not in COUNTRIES:
            self.fail(field, _("Use a two-letter country code such as DE."))
            return ""
        return code

    def vat_id(self, field: str, value: Any) -> str:
        """A VAT identification number with its country prefix (DE129273398), checked by its
        country's rules (check digits included), stored compact."""
        text = self.text(field, value, max_length=30)
        if not text:
            return ""
        compact = "".join(ch for ch in text.upper() if ch.isalnum())
        prefix = compact[:2]
        module = None
        if prefix.isalpha():
            country = VAT_PREFIXES.get(prefix, prefix.lower())
            try:
                module = stdnum.get_cc_module(country, "vat")
            except ImportError:
                module = None
        if module is None:
            self.fail(field, _("Start the VAT ID with its country code, e.g. DE129273398."))
            return text
        try:
            number = module.compact(text)
            module.validate(number)
        except stdnum.exceptions.ValidationError:
            self.fail(field, _("This VAT ID is not valid for its country; check the digits."))
            return text
        return str(number if number.upper().startswith(prefix) else prefix + number).upper()

    def website(self, field: str, value: Any) -> str:
        """A web address: a domain (example.com, www.example.com/contact) or an http(s) URL,
        stored as given. Nothing else: no other scheme, no user name or password in it."""
        failures = len(self.errors)
        text = self.text(field, value, max_length=200)
        if not text or len(self.errors) > failures:
            return text
        address = text if "://" in text else f"https://{text}"
        try:
            _WEBSITE(address)
            valid = urlsplit(address).username is None
        except (ValidationError, ValueError):
            valid = False
        if not valid:
            self.fail(field, _("Enter a web address such as example.com or https://www.example.com."))
        return text

    def email(self, field: str, value: Any, *, required: bool = False) -> str:
        value = self.text(field, value, max_length=254, required=required)
        if value:
            try:
                validate_email(value)
            except ValidationError:
                self.fail(field, _("Enter a valid email address."))
                return value
            local, _at, domain = value.rpartition("@")
            value = f"{local}@{domain.lower()}"
        return value

    def phone(self, field: str, value: Any, *, country: str) -> str:
        """A phone number in E.164; national formats are read with the organisation's country."""
        value = self.text(field, value, max_length=40)
        if not value:
            return ""
        try:
            number = phonenumbers.parse(value, country.upper())
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            self.fail(field, _("Enter a valid phone number, e.g. +49 30 1234567."))
            return value
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def tags(self, field: str, value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
            self.fail(field, _("Enter a list of tags."))
            return []
        cleaned = list(dict.fromkeys(tag.strip() for tag in value if tag.strip()))
        if len(cleaned) > 50:
            self.fail(field, _("Use at most 50 tags."))
        for tag in cleaned:
            if not TAG_PATTERN.match(tag):
                self.fail(field, _("Each tag has 1 to 50 characters and no control characters."))
                break
        return cleaned
