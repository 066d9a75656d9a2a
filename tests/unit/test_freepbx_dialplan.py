"""dialplans/freepbx/extensions_custom.conf carries a copy of the hook: it must
stay the hook of dialplans/extensions.conf, word for word, or a FreePBX box
would run an older (or different) hook than the one the e2e tests call."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def context(path: Path, name: str) -> str:
    m = re.search(r"^\[" + re.escape(name) + r"\]\n.*?(?=\n\n|\n; ----|\Z)", path.read_text(), re.S | re.M)
    assert m, f"{path}: no [{name}]"
    return m.group(0)


def test_the_freepbx_hook_is_the_hook() -> None:
    for name in ("intervene-hook", "intervene-cluster-hook"):
        assert context(ROOT / "dialplans" / "freepbx" / "extensions_custom.conf", name) == \
            context(ROOT / "dialplans" / "extensions.conf", name)


def test_the_ari_user_is_a_template_with_a_placeholder_password() -> None:
    """No password ships in the repository: the admin puts one in (README, step 3)."""
    text = (ROOT / "dialplans" / "freepbx" / "ari_additional_custom.conf").read_text()
    assert "password=@@ARI_PASSWORD@@" in text and "read_only=no" in text
