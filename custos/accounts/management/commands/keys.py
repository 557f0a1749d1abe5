"""`custos keys generate | rotate | status`: the master keys that wrap data keys."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from custos.accounts.services import master_key_rotate, master_key_usage
from custos.core import crypto


class Command(BaseCommand):
    help = "Manage encryption keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("generate", help="Print a new master key (32 random bytes, URL-safe base64).")
        sub.add_parser(
            "rotate",
            help=(
                "Re-wrap every data key under the current master key. Put the new key first in "
                "CUSTOS_MASTER_KEY and keep the old one after a comma until this has run."
            ),
        )
        sub.add_parser("status", help="Show which master key wraps how many data keys.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "generate":
            self.stdout.write(crypto.generate_master_key())
        elif action == "rotate":
            count, secrets = master_key_rotate()
            self.stdout.write(
                f"re-wrapped {count} data keys and {secrets} platform secrets "
                f"under master key {crypto.current_master_key()[0]}"
            )
        else:
            for key_id, use in master_key_usage().items():
                mark = (
                    "current"
                    if key_id == crypto.current_master_key()[0]
                    else ("configured" if key_id in crypto.master_keys() else "MISSING")
                )
                self.stdout.write(
                    f"{key_id}  {use.data_keys:6d} data keys  {use.sign_in_secrets:6d} sign-in secrets  ({mark})"
                )
