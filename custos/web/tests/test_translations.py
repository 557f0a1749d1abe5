"""Every UI string is translated into every language, and the catalogs are current."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
LANGUAGES = [code for code, _ in settings.LANGUAGES if code != "en"]


def _catalog(root: Path, language: str) -> polib.POFile:
    return polib.pofile(str(root / "locale" / language / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated(language):
    catalog = _catalog(ROOT, language)
    missing = [e.msgid for e in catalog.untranslated_entries()]
    fuzzy = [e.msgid for e in catalog.fuzzy_entries()]
    assert not missing, f"{language}: {len(missing)} untranslated, e.g. {missing[:5]}"
    assert not fuzzy, f"{language}: {len(fuzzy)} fuzzy, e.g. {fuzzy[:5]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_survive_translation(language):
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(ROOT / "locale" / language / "LC_MESSAGES" / "django.po")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_catalogs_hold_every_string_of_the_source(tmp_path):
    """Re-extract the strings from a copy of the source: nothing may be new."""
    for name in ("custos", "config", "locale"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    custos = Path(sys.executable).with_name("custos")
    subprocess.run(
        [
            str(custos),
            "makemessages",
            *(f"-l{code}" for code in LANGUAGES),
            "--ignore=*/tests/*",
            "--add-location=file",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "CUSTOS_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(tmp_path)},
    )
    for language in LANGUAGES:
        fresh = {e.msgid for e in _catalog(tmp_path, language) if not e.obsolete}
        committed = {e.msgid for e in _catalog(ROOT, language) if not e.obsolete}
        assert not fresh - committed, f"run `make catalogs` and translate: {sorted(fresh - committed)[:10]}"
