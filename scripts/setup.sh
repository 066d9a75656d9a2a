#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh machine: a virtualenv in .venv with
# intervene and everything it needs. torch goes first, from the CPU build,
# because sentence-transformers would otherwise pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[harness,test,postgres,ray]"
# the rep's screen is tested (and benchmarked) in Debian's Chromium
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  else
    echo "note: no /usr/bin/chromium - the browser tests need it: sudo apt-get install chromium" >&2
  fi
fi
# the cluster tests start a throwaway PostgreSQL from Debian's server binaries (no service)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
  else
    echo "note: no PostgreSQL server binaries - the cluster tests need them: sudo apt-get install postgresql" >&2
  fi
fi
# the offline models ship in packages: check they load, so a broken install fails here
HF_HUB_OFFLINE=1 python - <<'PY'
from intervene.nlp.embed import default_model_path
import os
p = default_model_path()
assert os.path.isdir(p), f"embedding model not found: {p}"
from intervene.listen.asr import default_model_path as asr_model
a = asr_model()
assert os.path.isfile(os.path.join(a, "model.bin")), f"Whisper model not found: {a}"
print("setup ok: embedding model at", p, "- Whisper model at", a)
PY
