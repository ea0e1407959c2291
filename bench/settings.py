"""Settings for `make bench`: production settings plus the baseline views' URLs (never served in production)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
