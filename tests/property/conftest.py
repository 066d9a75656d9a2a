"""Hypothesis profiles for the property suite (tests/property/).

`ci` (the default) is derandomized - the same examples on every run, so a
failure in CI is a failure on every machine - and keeps no example database,
so a test run writes nothing into the tree. `dev` explores: a new seed each
run, and the example database (.hypothesis/) that replays a failure found
before. Pick it with HYPOTHESIS_PROFILE=dev."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
