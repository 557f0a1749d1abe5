"""Realistic people, companies and phone numbers from Germany, Poland and Austria.

Deterministic: everything comes from the `random.Random` passed in, so a seed gives the
same data on every run and every database. No Faker: a few lists go a long way, and
phone numbers and VAT IDs are checked with the same libraries the application uses.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

import phonenumbers
import stdnum.at.uid
import stdnum.de.vat
import stdnum.pl.nip

COUNTRIES = ("DE", "PL", "AT")
COUNTRY_WEIGHTS = (6, 3, 2)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = {
    "DE": _words(
        "Anna Lukas Sophie Jonas Marie Felix Lea Paul Hannah Elias Emma Ben Mia Noah Lina Leon Clara Finn "
        "Greta Moritz Ida Jakob Lena Maximilian Laura Niklas Sarah Tim Julia Jan Katharina Tobias Johanna "
        "Florian Marlene Sebastian Charlotte Matthias Frieda Stefan Sabine Andreas Ursula Thomas Petra "
        "Michael Monika Jürgen Renate Wolfgang Birgit Klaus Heike Uwe Karin Dieter Gisela Horst Ingrid Helmut "
        "Brigitte Ömer Ayşe Mehmet Elif"
    ),
    "PL": _words(
        "Zofia Jakub Maja Kacper Julia Szymon Zuzanna Antoni Hanna Filip Lena Jan Alicja Aleksander Oliwia "
        "Franciszek Natalia Mikołaj Wiktoria Wojciech Agnieszka Tomasz Małgorzata Krzysztof Katarzyna Piotr "
        "Magdalena Paweł Joanna Marcin Ewa Łukasz Barbara Michał Dorota Grzegorz Beata Andrzej Elżbieta "
        "Stanisław"
    ),
    "AT": _words(
        "Tobias Valentina Lorenz Anna Florian Magdalena Johannes Theresa Matthias Viktoria Dominik Katharina "
        "Sebastian Elisabeth Georg Veronika Christoph Barbara Alexander Lisa Markus Stefanie Bernhard Verena "
        "Gernot Brigitte Herbert Waltraud Reinhold Gertrude"
    ),
}
LAST_NAMES = {
    "DE": _words(
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer "
        "Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt "
        "Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König Walter Mayer Huber "
        "Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel Friedrich Keller Günther Frank "
        "Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus "
        "Martin Schumacher Krämer Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber "
        "Graf Schulte Dietrich Ziegler Kuhn Kühn Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold "
        "Wolff Pfeiffer Yılmaz Kaya Demir Şahin Çelik"
    ),
    "PL": _words(
        "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Woźniak "
        "Dąbrowski Kozłowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski Nowakowski Pawłowski "
        "Michalski Nowicki Adamczyk Dudek Zając Wieczorek Jabłoński Król Majewski Olszewski Jaworski Wróbel "
        "Malinowski Pawlak Witkowski Walczak Stępień Górski Rutkowski Michalak Sikora Ostrowski Baran Duda "
        "Szewczyk Tomaszewski Pietrzak Marciniak Wróblewski Zalewski Jakubowski Jasiński Zawadzki Sadowski "
        "Bąk Chmielewski"
    ),
    "AT": _words(
        "Gruber Huber Bauer Wagner Müller Pichler Steiner Moser Mayer Hofer Leitner Berger Fuchs Eder Fischer "
        "Schmid Winkler Weber Schwarz Maier Schneider Reiter Mayr Schmidt Wimmer Egger Brunner Lang "
        "Baumgartner Auer Binder Lechner Wolf Wallner Aigner Ebner Koller Lehner Haas Schuster Holzer Wieser "
        "Lackner Strasser"
    ),
}
# Polish surnames ending in -ski/-cki take -ska/-cka for women; close enough for names.
FEMININE_ENDINGS = {"ski": "ska", "cki": "cka", "dzki": "dzka"}
POLISH_WOMEN = frozenset(
    _words(
        "Zofia Maja Julia Zuzanna Hanna Lena Alicja Oliwia Natalia Wiktoria Agnieszka Małgorzata Katarzyna "
        "Magdalena Joanna Ewa Barbara Dorota Beata Elżbieta"
    )
)
PUBLIC_MAIL = {
    "DE": ("gmx.de", "web.de", "t-online.de", "gmail.com", "outlook.de", "posteo.de", "freenet.de"),
    "PL": ("wp.pl", "onet.pl", "interia.pl", "o2.pl", "gmail.com"),
    "AT": ("gmx.at", "aon.at", "chello.at", "gmail.com", "a1.net"),
}
CITIES = {
    "DE": (
        ("Berlin", "10", "030"),
        ("Hamburg", "20", "040"),
        ("München", "80", "089"),
        ("Köln", "50", "0221"),
        ("Frankfurt am Main", "60", "069"),
        ("Stuttgart", "70", "0711"),
        ("Düsseldorf", "40", "0211"),
        ("Leipzig", "04", "0341"),
        ("Dresden", "01", "0351"),
        ("Hannover", "30", "0511"),
        ("Nürnberg", "90", "0911"),
        ("Bremen", "28", "0421"),
    ),
    "PL": (
        ("Warszawa", "00", "22"),
        ("Kraków", "30", "12"),
        ("Wrocław", "50", "71"),
        ("Poznań", "60", "61"),
        ("Gdańsk", "80", "58"),
        ("Łódź", "90", "42"),
    ),
    "AT": (
        ("Wien", "1", "01"),
        ("Graz", "8", "0316"),
        ("Linz", "4", "0732"),
        ("Salzburg", "5", "0662"),
        ("Innsbruck", "6", "0512"),
    ),
}
STREETS = {
    "DE": ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schillerstraße", "Am Markt", "Kirchgasse"),
    "PL": ("ul. Długa", "ul. Polna", "ul. Leśna", "ul. Słoneczna", "ul. Kościuszki", "al. Jana Pawła II"),
    "AT": ("Hauptplatz", "Mariahilfer Straße", "Landstraße", "Kirchengasse", "Bahnhofstraße", "Schulgasse"),
}
MOBILE = {
    "DE": ("0151", "0152", "0160", "0170", "0171", "0176"),
    "PL": ("50", "60", "69", "72", "79", "88"),
    "AT": ("0664", "0676", "0699", "0650"),
}
INDUSTRIES = {
    "DE": (
        "Dentallabor",
        "Zahnarztpraxis",
        "Steuerberatung",
        "Elektrotechnik",
        "Bau",
        "Logistik",
        "Software",
        "Bäckerei",
        "Medizintechnik",
        "Immobilien",
    ),
    "PL": ("Stomatologia", "Usługi Budowlane", "Transport", "Biuro Rachunkowe", "Informatyka", "Handel"),
    "AT": ("Zahntechnik", "Installateur", "Tischlerei", "Steuerberatung", "Architektur", "Handel"),
}
LEGAL_FORMS = {
    "DE": ("GmbH", "GmbH & Co. KG", "KG", "AG", "e.K."),
    "PL": ("Sp. z o.o.", "S.A.", "Sp.j."),
    "AT": ("GmbH", "KG", "OG", "e.U."),
}
TAGS = (
    "patient",
    "recall",
    "supplier",
    "vip",
    "newsletter",
    "insurance",
    "orthodontics",
    "b2b",
    "partner",
    "lead-2026",
)
HEALTH_NOTES = (
    "Penicillin allergy. Anxious patient; prefers morning appointments.",
    "Type 2 diabetes; check healing after extraction.",
    "Takes blood thinners; coordinate with GP before surgery.",
    "Latex allergy.",
)
NOTES = ("Prefers email.", "Call after 16:00.", "Met at the trade fair in Köln.", "Referred by a colleague.", "")
LEAD_INTERESTS = (
    "implant consultation",
    "practice software",
    "bleaching",
    "orthodontics",
    "lab partnership",
    "annual maintenance",
)
DEAL_NAMES = (
    "Implant set",
    "Annual lab contract",
    "Bleaching package",
    "Aligner series",
    "Practice equipment",
    "Software licence",
    "Maintenance contract",
)
ACTIVITY_TITLES = {
    "note": ("Prefers contact by email", "Asked for a quote", "Complained about delivery time", "Budget approved"),
    "task": ("Send quote", "Recall: check-up due", "Confirm appointment", "Follow up on invoice"),
    "call": ("First call", "Follow-up call", "Called back", "No answer"),
    "email": ("Sent brochure", "Sent contract", "Replied to question"),
    "meeting": ("Demo at the practice", "Site visit", "Contract signing"),
}
_ASCII = str.maketrans({"ß": "ss", "ł": "l", "Ł": "L", "ä": "ae", "ö": "oe", "ü": "ue", "ı": "i", "ş": "s", "ç": "c"})


def ascii_local(text: str) -> str:
    """How a name appears in an email address: 'Jürgen Wiśniewski' -> 'juergen.wisniewski'."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return "".join(ch for ch in folded if ch.isalnum() or ch in ".-").lower()


@dataclass(frozen=True)
class Person:
    country: str
    first_name: str
    last_name: str


def person(rng: random.Random) -> Person:
    country = rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0]
    first = rng.choice(FIRST_NAMES[country])
    last = rng.choice(LAST_NAMES[country])
    if country == "PL" and first in POLISH_WOMEN:
        for ending, feminine in FEMININE_ENDINGS.items():
            if last.endswith(ending):
                last = last[: -len(ending)] + feminine
                break
    return Person(country, first, last)


class Emails:
    """Unique, plausible addresses: 'anna.mueller@gmx.de', 'a.mueller84@web.de', …"""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def __call__(self, who: Person, domain: str | None = None) -> str:
        first, last = ascii_local(who.first_name), ascii_local(who.last_name)
        domain = domain or self.rng.choice(PUBLIC_MAIL[who.country])
        local = self.rng.choice((f"{first}.{last}", f"{first[0]}.{last}", f"{last}.{first}", f"{first}{last}"))
        address = f"{local}@{domain}"
        while address.lower() in self.used:
            address = f"{local}{self.rng.randint(1, 9999)}@{domain}"
        self.used.add(address.lower())
        return address


def phone(rng: random.Random, country: str, mobile: bool | None = None) -> str:
    """A valid number in E.164, as the application stores it (checked with phonenumbers)."""
    mobile = rng.random() < 0.5 if mobile is None else mobile
    while True:
        if mobile:
            prefix, rest = rng.choice(MOBILE[country]), {"DE": 8, "PL": 7, "AT": 7}[country]
        else:
            prefix, rest = rng.choice(CITIES[country])[2], 7
        national = f"{prefix}{rng.randint(2, 9)}{rng.randrange(10 ** (rest - 1)):0{rest - 1}d}"
        number = phonenumbers.parse(national, country)
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_as_typed(rng: random.Random, e164: str) -> str:
    """The same number as people type it: national, international, with dashes or dots."""
    number = phonenumbers.parse(e164, None)
    style = rng.randrange(4)
    if style == 0:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    if style == 1:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if style == 2:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL).replace(" ", "-")
    return e164


VAT_MODULES = {"DE": (stdnum.de.vat, "DE", 8), "PL": (stdnum.pl.nip, "PL", 9), "AT": (stdnum.at.uid, "ATU", 7)}


def vat_id(rng: random.Random, country: str) -> str:
    """A VAT ID that passes its country's check digits (the application validates them)."""
    module, prefix, length = VAT_MODULES[country]
    while True:
        body = f"{rng.randint(1, 9)}{rng.randrange(10 ** (length - 1)):0{length - 1}d}"
        for check in "0123456789":
            candidate = f"{prefix}{body}{check}"
            if module.is_valid(candidate):
                return candidate


def address(rng: random.Random, country: str) -> dict[str, str]:
    city, postcode_start, _ = rng.choice(CITIES[country])
    digits = {"DE": 5, "PL": 5, "AT": 4}[country]
    postcode = (
        postcode_start + f"{rng.randrange(10 ** (digits - len(postcode_start))):0{digits - len(postcode_start)}d}"
    )
    if country == "PL":
        postcode = f"{postcode[:2]}-{postcode[2:]}"
    return {
        "street": f"{rng.choice(STREETS[country])} {rng.randint(1, 180)}",
        "postcode": postcode,
        "city": city,
        "country": country,
    }


def company_name(rng: random.Random, country: str) -> str:
    last = rng.choice(LAST_NAMES[country])
    industry = rng.choice(INDUSTRIES[country])
    shape = rng.randrange(3)
    if shape == 0:
        name = f"{industry} {last}"
    elif shape == 1:
        name = f"{last} {industry}"
    else:
        name = f"{last} & {rng.choice(LAST_NAMES[country])}"
    return f"{name} {rng.choice(LEGAL_FORMS[country])}"
