"""Shared fixtures: the unit tests run in the smoke profile unless a test says otherwise."""

import os

os.environ.setdefault("COURSE_PROFILE", "smoke")
