"""`python -m bench [--smoke | --large]` (what `make bench` runs): see bench/run.py."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from bench.run import Command  # noqa: E402 - Django must be set up first

Command().run_from_argv(["manage.py", "bench", *sys.argv[1:]])
