"""The application's settings, plus a URL that exists only while a benchmark runs.

`custos bench crm` starts the production server with DJANGO_SETTINGS_MODULE=bench.settings,
so that a bare Django view (`/bench/bare`) runs in the same processes, behind the same
middleware, as the API it is compared with.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
