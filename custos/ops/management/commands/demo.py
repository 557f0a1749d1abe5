"""`custos demo`: a demo organisation with an owner and realistic sample data."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from custos.accounts.access import actor_for
from custos.accounts.models import Membership, Role
from custos.accounts.services import member_add, organization_create, team_create, team_set_members
from custos.core.actor import Via
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.crm.services.activities import activity_create
from custos.crm.services.deals import deal_create, pipeline_default
from custos.crm.services.leads import lead_create
from custos.crm.services.people import company_create, contact_create

DEMO_NAME = "Lindenhof Dental GmbH"
DEMO_OWNER = "owner@lindenhof.example"

FIRST_NAMES = [
    "Anna",
    "Lukas",
    "Sophie",
    "Jonas",
    "Marie",
    "Felix",
    "Lea",
    "Paul",
    "Hannah",
    "Elias",
    "Zofia",
    "Jakub",
    "Maja",
    "Kacper",
    "Julia",
    "Szymon",
    "Layla",
    "Omar",
    "Yasmin",
    "Karim",
    "Emma",
    "Ben",
    "Mia",
    "Noah",
    "Lina",
    "Tomasz",
    "Agnieszka",
    "Fatima",
    "Youssef",
    "Greta",
]
LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Schäfer",
    "Nowak",
    "Kowalski",
    "Wiśniewska",
    "Wójcik",
    "Kamińska",
    "Lewandowski",
    "Haddad",
    "Khalil",
    "Nasser",
    "Saleh",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hartmann",
]
COMPANIES = [
    ("Dentallabor Ostwind GmbH", "DE129273398", "+49 30 4401234"),
    ("Nordsee Krankenkasse", "", "+49 421 555010"),
    ("Praxisbedarf Rhein-Main KG", "DE811569869", "069 9203340"),
    ("Kowalski Stomatologia Sp. z o.o.", "PL5260250274", "+48 22 6283100"),
    ("Implantat-Technik Süd GmbH", "DE136695976", "+49 89 2441760"),
    ("Steuerbüro Hartmann & Partner", "", "+49 40 3098710"),
    ("Al-Noor Medical Supplies", "", "+49 211 8765430"),
    ("Röntgen Service Berlin", "DE282741168", "030 6912345"),
    ("Praxis-IT Lübeck", "", "+49 451 703020"),
    ("Hygieneservice Weser", "DE813383160", "+49 421 2234560"),
]
TAGS = ["patient", "recall", "supplier", "vip", "newsletter", "insurance", "orthodontics"]
HEALTH_NOTES = [
    "Penicillin allergy. Anxious patient; prefers morning appointments.",
    "Type 2 diabetes; check healing after extraction.",
    "Pregnant (2nd trimester): no X-ray without consultation.",
    "Takes blood thinners (apixaban); coordinate with GP before surgery.",
    "",
    "",
    "",
]
STAFF = [
    ("anna.schmidt@lindenhof.example", "Anna Schmidt", "sales"),
    ("piotr.nowak@lindenhof.example", "Piotr Nowak", "privacy_officer"),
    ("leila.haddad@lindenhof.example", "Leila Haddad", "support"),
    ("jonas.weber@lindenhof.example", "Jonas Weber", "manager"),
    ("buchhaltung@lindenhof.example", "Greta Braun", "accountant"),
]


# Area and mobile prefixes with the subscriber-number length each takes (valid German numbers).
PHONE_PREFIXES = [("030", 8), ("040", 8), ("089", 8), ("069", 8), ("0221", 7), ("0151", 8), ("0171", 7)]


def _phone(rng: random.Random) -> str:
    prefix, length = rng.choice(PHONE_PREFIXES)
    return f"{prefix} {rng.randint(2, 9)}{rng.randrange(10 ** (length - 1)):0{length - 1}d}"


LEAD_INTERESTS = ["implant consultation", "practice software", "bleaching", "orthodontics", "lab partnership"]
DEAL_NAMES = ["Implant set", "Annual lab contract", "Bleaching package", "Aligner series", "Practice equipment"]


class Command(BaseCommand):
    help = "Create a demo organisation with an owner and sample data; prints the owner's login once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if any organisation exists.")
        parser.add_argument("--contacts", type=int, default=150)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Organization.objects.exists():
            demo = Organization.objects.filter(name=DEMO_NAME).first()
            if demo is not None:
                self.stdout.write(
                    f"The demo organisation exists. Sign in as {DEMO_OWNER} with the password printed on the first run."
                )
            else:
                self.stdout.write("Organisations exist already; no demo data created.")
            return
        rng = random.Random(options["seed"])
        with transaction.atomic():
            created = organization_create(name=DEMO_NAME, owner_email=DEMO_OWNER, country="DE")
            org = created.org
            with tenant_scope(org):
                owner = Membership.objects.get(org=org, user=created.owner)
                actor = actor_for(owner, via=Via.CLI)
                staff_ids = []
                for email, name, role_key in STAFF:
                    membership = member_add(actor=actor, email=email, role=Role.objects.get(key=role_key))
                    membership.user.full_name = name
                    membership.user.save(update_fields=["full_name"])
                    staff_ids.append(membership.user_id)
                team = team_create(actor=actor, name="Praxis Mitte")
                team_set_members(actor=actor, team=team, user_ids={staff_ids[0], staff_ids[3]})
                companies = [
                    company_create(
                        actor=actor, data={"name": name, "vat_id": vat, "phone": phone, "tags": ["supplier"]}
                    )
                    for name, vat, phone in COMPANIES
                ]
                owners = [created.owner.pk, staff_ids[0], staff_ids[3]]
                contacts = []
                for index in range(options["contacts"]):
                    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                    local = f"{first}.{last}".lower().translate(str.maketrans("äöüßśńćłóęążź", "aousoncloeazz"))
                    contact = contact_create(
                        actor=actor,
                        data={
                            "first_name": first,
                            "last_name": last,
                            "email": f"{local}{index}@example.com",
                            "phone": _phone(rng),
                            "company": str(rng.choice(companies).pk) if rng.random() < 0.3 else None,
                            "owner": str(rng.choice(owners)),
                            "tags": rng.sample(TAGS, k=rng.randint(0, 2)),
                            "health_notes": rng.choice(HEALTH_NOTES),
                        },
                    )
                    contacts.append(contact)
                self._sales(actor, rng, contacts, companies, owners)
        self.stdout.write(f"Demo organisation: {org.name} (slug {org.slug})")
        self.stdout.write(f"email: {DEMO_OWNER}")
        self.stdout.write(f"password: {created.password}")
        self.stdout.write(
            "This password is shown only now. Owners sign in with a second factor: set it up on first sign-in."
        )

    @staticmethod
    def _sales(actor: Any, rng: random.Random, contacts: list[Any], companies: list[Any], owners: list[Any]) -> None:
        """Leads in every state, deals across the pipeline, and a timeline with due tasks."""
        now = timezone.now()
        for index in range(25):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            lead = lead_create(
                actor=actor,
                data={
                    "first_name": first,
                    "last_name": last,
                    "email": f"lead{index}.{last.lower().encode('ascii', 'ignore').decode()}@example.org",
                    "company_name": rng.choice(["", "Praxis am See", "Zahnzentrum Nord", "Dr. Novak & Kollegen"]),
                    "source": rng.choice(["web_form", "referral", "event", "manual"]),
                    "interest": rng.choice(LEAD_INTERESTS),
                    "status": rng.choice(["new", "new", "contacted", "qualified"]),
                    "owner": str(rng.choice(owners)),
                },
            )
            if index % 5 == 0:
                activity_create(
                    actor=actor,
                    data={"kind": "call", "title": "First call", "lead": str(lead.pk), "owner": str(lead.owner_id)},
                )
        pipeline = pipeline_default(actor)
        stages = list(pipeline.stages.order_by("position"))
        for _ in range(30):
            contact = rng.choice(contacts)
            stage = rng.choice(stages)
            deal_create(
                actor=actor,
                data={
                    "name": rng.choice(DEAL_NAMES),
                    "contact": str(contact.pk),
                    "company": str(contact.company_id) if contact.company_id else str(rng.choice(companies).pk),
                    "amount": str(rng.choice([450, 1200, 2800, 5400, 12500])),
                    "stage": str(stage.pk),
                    "lost_reason": "Chose another provider" if stage.outcome == "lost" else "",
                    "expected_close": (now + timedelta(days=rng.randint(5, 90))).date().isoformat(),
                    "owner": str(contact.owner_id),
                },
            )
        for contact in rng.sample(contacts, k=min(20, len(contacts))):
            activity_create(
                actor=actor,
                data={
                    "kind": "task",
                    "title": rng.choice(["Recall: check-up due", "Send quote", "Confirm appointment"]),
                    "contact": str(contact.pk),
                    "owner": str(contact.owner_id),
                    "due_at": (now + timedelta(days=rng.randint(-3, 7))).isoformat(),
                },
            )
            activity_create(
                actor=actor,
                data={"kind": "note", "title": "Prefers contact by email", "contact": str(contact.pk)},
            )
