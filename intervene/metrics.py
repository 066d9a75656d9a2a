"""The service's Prometheus metrics, in one registry of its own.

Defined here, at the bottom of the layers, so every layer can count what it
does without knowing who scrapes it; `/metrics` (screen/web/metrics.py)
renders the registry. A registry of our own rather than the library's global
one, so the process's other libraries add nothing unexpected and tests can
read values.

Counters and histograms are bumped where the thing happens (one line each:
pbx/call.py, listen/pipeline.py, screen/web/events.py, leads/). What lives
in the database (leads by status, the outboxes) is a gauge set at scrape
time, read on the store's thread. `scripts/grafana/intervene-dashboard.json`
reads these names (a test keeps the two in step), so renaming one here means
renaming it there.

Labels never carry personal data or unbounded values (no call ids, numbers,
names): only categories, modes, parties, statuses and the worker's name."""
from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# seconds: from a few ms (a card pushed) to the 4 s a spoken correction may wait for a gap, and beyond
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LAG_EVERY_S = 0.25           # how often the loop-lag probe sleeps (and measures how late it woke)

# ---------------------------------------------------------------- calls
CALLS_IN_PROGRESS = Gauge("intervene_calls_in_progress", "Live calls this worker is monitoring now",
                          ["worker"], registry=REGISTRY)
UTTERANCES = Counter("intervene_utterances_total", "Transcript lines of live calls (final, or interim words)",
                     ["party", "kind"], registry=REGISTRY)
INTERVENTIONS = Counter("intervene_interventions_total", "Interventions decided on live calls",
                        ["category", "mode"], registry=REGISTRY)
DELIVERIES = Counter("intervene_deliveries_total", "What became of each intervention (spoken, shown, failed, ...)",
                     ["mode", "status"], registry=REGISTRY)
EOS_TO_DECISION = Histogram("intervene_eos_to_decision_seconds",
                            "From a final utterance's end of speech to the engine's decision on it",
                            registry=REGISTRY, buckets=LATENCY_BUCKETS)
DECISION_TO_DELIVERED = Histogram("intervene_decision_to_delivered_seconds",
                                  "From an intervention's decision to its delivery (card shown, voice started)",
                                  ["mode"], registry=REGISTRY, buckets=LATENCY_BUCKETS)

# ------------------------------------------------------------------ ASR
ASR_QUEUE = Gauge("intervene_asr_queue_depth", "Speech pieces waiting for Whisper", registry=REGISTRY)
ASR_SKIPPED = Counter("intervene_asr_interims_skipped_total",
                      "Interim transcriptions skipped because they waited too long (Whisper is behind)",
                      registry=REGISTRY)

# -------------------------------------------------------------- service
LOOP_LAG = Histogram("intervene_event_loop_lag_seconds", "How late the event loop ran a timer (sampled)",
                     registry=REGISTRY, buckets=LAG_BUCKETS)
LOOP_LAG_LAST = Gauge("intervene_event_loop_lag_last_seconds", "The event loop's lag at the latest sample",
                      registry=REGISTRY)
SSE_CLIENTS = Gauge("intervene_sse_clients", "Screens connected to the live push (/api/events)",
                    registry=REGISTRY)
STORE_PENDING = Gauge("intervene_store_pending_jobs", "Database jobs queued on the store thread",
                      registry=REGISTRY)
STORE_BEHIND = Gauge("intervene_store_behind_seconds", "Age of the oldest queued database job",
                     registry=REGISTRY)

# ---------------------------------------------------------------- leads
LEADS = Gauge("intervene_leads", "Leads in the database by status (read at scrape time)", ["status"],
              registry=REGISTRY)
OUTBOX_BACKLOG = Gauge("intervene_outbox_backlog", "Outbox rows not yet delivered (pending or sending)",
                       ["outbox"], registry=REGISTRY)
OUTBOX_OLDEST = Gauge("intervene_outbox_oldest_pending_age_seconds",
                      "Age of the oldest outbox row not yet delivered (0 when none)", ["outbox"], registry=REGISTRY)
OUTBOX_FAILED = Gauge("intervene_outbox_failed", "Outbox rows given up on (refused or too old)", ["outbox"],
                      registry=REGISTRY)
OUTBOX_SENDS = Counter("intervene_outbox_sends_total",
                       "Outbox send attempts by result (sent, retry, refused, expired, error)",
                       ["outbox", "result"], registry=REGISTRY)
WEBHOOKS = Counter("intervene_webhooks_total",
                   "Incoming lead webhooks by result (a Facebook batch counts each lead it accepts)",
                   ["endpoint", "result"], registry=REGISTRY)
CRM_DELIVERIES = Counter("intervene_crm_deliveries_total",
                         "CRM write-back delivery attempts by target (webhook name or id, hubspot) and result "
                         "(sent, retry, failed)", ["target", "result"], registry=REGISTRY)


async def watch_loop_lag(stop: asyncio.Event, every_s: float = LAG_EVERY_S) -> None:
    """The service's background job: sleep `every_s`, and count how much
    later than asked the loop woke us. A blocking call anywhere on the loop
    (the thing the design forbids) shows here, whoever made it."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        asked = loop.time()
        await asyncio.sleep(every_s)
        lag = max(0.0, loop.time() - asked - every_s)
        LOOP_LAG.observe(lag)
        LOOP_LAG_LAST.set(lag)
