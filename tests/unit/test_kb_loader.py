"""Tests for intervene.kb.loader: the example KBs, round-trips, merging, and
that every malformed file gives one clear KBError (file, line, key)."""
from __future__ import annotations

import pathlib
import textwrap

import pytest

from intervene.kb import KBError, dump_kb, load_kb, load_kb_text
from intervene.vocab import Assistant, Fact, Required

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted([*(ROOT / "kb").glob("*.yaml"), *(ROOT / "kb" / "examples").glob("*.yaml")])

MINI = """\
company: Mini Co
products:
  - id: basic
    name: Basic plan
    price: "$10 per month"
    facts:
      - Includes email support.
"""


def write(tmp_path: pathlib.Path, text: str, name: str = "kb.yaml") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error(tmp_path: pathlib.Path, text: str, name: str = "bad.yaml") -> KBError:
    path = write(tmp_path, text, name)
    with pytest.raises(KBError) as info:
        load_kb(path)
    return info.value


def assert_err(err: KBError, line: int | None, key: str | None, *words: str) -> None:
    msg = str(err)
    assert err.file.endswith(".yaml") or err.file.endswith(".yml"), msg
    assert pathlib.Path(err.file).name in msg
    assert err.line == line, msg
    if line is not None:
        assert f":{line}:" in msg
    assert err.key == key, msg
    if key:
        assert f" {key}: " in msg
    for w in words:
        assert w in msg, msg


# ------------------------------------------------------------------ examples

def test_acme_counts_and_texts() -> None:
    kb = load_kb(ROOT / "kb" / "acme.yaml")
    assert kb.company == "Acme Business Networks"
    assert kb.assistant == Assistant("Acme assistant", "Quick note from the Acme assistant.")
    assert [p.id for p in kb.products] == ["standard", "premium", "multi-site"]
    assert kb.products[0].aliases[:2] == ("standard", "standard plan")
    assert len(kb.facts) == 10 + 3 + 5 + 1
    assert len(kb.competitors) == 2 and len(kb.opportunities) == 2
    assert len(kb.promotions) == 1 and len(kb.forbidden) == 1 and len(kb.required) == 3
    by_key = {f.key: f for f in kb.facts}
    assert len(by_key) == len(kb.facts)
    assert by_key["standard#1"] == Fact("standard#1", "standard", "Includes three years of support.",
                                        "standard", "product-fact")
    assert by_key["standard#price"].text == "The Standard package costs $49 per month."
    assert by_key["standard#price"].kind == "price"
    assert by_key["refund"].tags == ("policy",) and by_key["refund"].product is None
    promo = by_key["promo:year-end-install"]
    assert promo.kb_id == "year-end-install" and promo.kind == "promotion"
    assert kb.required[0] == Required("recording-disclosure", kb.required[0].phrases, 90.0,
                                      "compliance.required")
    assert [r.section for r in kb.required[1:]] == ["process", "process"]
    assert kb.opportunities[0].offer == "multi-site"
    assert kb.product("premium").price == "$89 per month"


def test_acme_is_a_copy_of_the_shared_example() -> None:
    shared = ROOT.parent / "shared" / "kb" / "acme.yaml"
    if not shared.exists():
        pytest.skip("shared example not present")
    assert load_kb(shared).facts == load_kb(ROOT / "kb" / "acme.yaml").facts


def test_folded_say_is_one_clean_line() -> None:
    kb = load_kb(ROOT / "kb" / "acme.yaml")
    say = kb.opportunities[0].say
    assert say.startswith("Since you mentioned another location - our multi-site package covers both at")
    assert "\n" not in say and "  " not in say and not say.endswith(" ")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_loads_and_uses_every_section(path: pathlib.Path) -> None:
    kb = load_kb(path)
    assert kb.company and kb.assistant.intro
    assert kb.products and kb.competitors and kb.opportunities and kb.promotions and kb.forbidden
    assert {r.section for r in kb.required} == {"compliance.required", "process"}
    assert {f.kind for f in kb.facts} == {"product-fact", "price", "fact", "promotion"}
    assert len({f.key for f in kb.facts}) == len(kb.facts)
    assert kb.source == str(path)


def test_there_are_three_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {"acme.yaml", "sunpeak-solar.yaml", "ledgerly-saas.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_round_trip(path: pathlib.Path) -> None:
    kb = load_kb(path)
    text = dump_kb(kb)
    assert text.startswith("company: ")
    again = load_kb_text(text, source=kb.source)
    assert again == kb
    assert dump_kb(again) == text


def test_round_trip_of_defaults_and_odd_text() -> None:
    kb = load_kb_text("company: 'Odd: Co #1'\nfacts:\n  - {id: a, text: \"Yes: 'no' # not a comment\"}\n"
                      "process:\n  - {id: p, phrases: x, by_s: 2.5}\n")
    assert kb.assistant == Assistant("Odd: Co #1 assistant", "")
    assert kb.required[0].deadline_s == 2.5
    assert load_kb_text(dump_kb(kb)) == kb


# ------------------------------------------------------------- building rules

def test_single_string_lists_and_the_prefix() -> None:
    kb = load_kb_text(textwrap.dedent("""\
        company: Solo
        x-owner: sales-ops
        products:
          - id: the-one
            name: The One plan
            aliases: the one
            price: "$5."
            x-note: internal
        opportunities:
          - {id: the-one, signals: upgrade, say: Ask about it., offer: the-one}
        """))
    assert kb.products[0].aliases == ("the one",)
    assert kb.opportunities[0].signals == ("upgrade",)
    assert kb.facts[0].text == "The One plan costs $5."   # no "The The", no ".."
    assert kb.opportunities[0].id == kb.products[0].id     # same id, different sections


def test_numeric_looking_id_is_accepted() -> None:
    kb = load_kb_text("company: C\nfacts:\n  - id: 404\n    text: Not found.\n")
    assert kb.facts[0].key == "404"


# ------------------------------------------------------------------- merging

def test_directory_merge(tmp_path: pathlib.Path) -> None:
    write(tmp_path, MINI, "a.yaml")
    write(tmp_path, """\
        company: Ignored Co
        assistant: {name: Bot, intro: Hi.}
        products:
          - {id: pro, name: Pro plan}
        facts:
          - {id: refund, text: Refunds within 30 days.}
        """, "b.yml")
    write(tmp_path, "facts:\n  - {id: hours, text: Open 9 to 5.}\n", "c.yaml")
    (tmp_path / "notes.txt").write_text("not yaml: [", encoding="utf-8")
    kb = load_kb(tmp_path)
    assert kb.company == "Mini Co"
    assert kb.assistant == Assistant("Bot", "Hi.")
    assert [p.id for p in kb.products] == ["basic", "pro"]
    assert [f.key for f in kb.facts] == ["basic#0", "basic#price", "refund", "hours"]
    assert "a.yaml" in kb.source and "c.yaml" in kb.source


def test_directory_duplicate_id_names_both_files(tmp_path: pathlib.Path) -> None:
    write(tmp_path, MINI, "a.yaml")
    write(tmp_path, "products:\n  - id: other\n    name: Other\n  - id: basic\n    name: Again\n", "b.yaml")
    with pytest.raises(KBError) as info:
        load_kb(tmp_path)
    msg = str(info.value)
    assert "b.yaml:4: products[1].id:" in msg and "a.yaml:3" in msg and "duplicate id `basic`" in msg


def test_directory_without_company_or_files(tmp_path: pathlib.Path) -> None:
    with pytest.raises(KBError, match="no .yaml/.yml files"):
        load_kb(tmp_path)
    write(tmp_path, "facts:\n  - {id: a, text: A.}\n", "a.yaml")
    with pytest.raises(KBError, match="company: no file sets `company`"):
        load_kb(tmp_path)


def test_offer_may_name_a_product_from_another_file(tmp_path: pathlib.Path) -> None:
    write(tmp_path, MINI, "a.yaml")
    write(tmp_path, "opportunities:\n  - {id: up, signals: [more], say: Try it., offer: basic}\n", "b.yaml")
    assert load_kb(tmp_path).opportunities[0].offer == "basic"


# --------------------------------------------------------------- validation

def test_missing_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(KBError) as info:
        load_kb(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: no such file or directory"


def test_invalid_yaml_reports_its_line(tmp_path: pathlib.Path) -> None:
    err = error(tmp_path, "company: C\nproducts:\n  - id: a\n    name: [unclosed\n  - id: b\n")
    assert err.line is not None and err.line >= 4
    assert "bad.yaml" in str(err) and "invalid YAML" in str(err)


def test_tab_indentation_is_invalid_yaml(tmp_path: pathlib.Path) -> None:
    err = error(tmp_path, "company: C\nfacts:\n\t- id: a\n")
    assert_err(err, 3, None, "invalid YAML")


def test_empty_file(tmp_path: pathlib.Path) -> None:
    assert_err(error(tmp_path, "# only a comment\n"), None, None,
               "empty file, expected a mapping with `company`")


def test_top_level_not_a_mapping(tmp_path: pathlib.Path) -> None:
    assert_err(error(tmp_path, "- company: C\n"), 1, None, "expected a mapping", "got a list")


@pytest.mark.parametrize("text,line,key,words", [
    ("products: []\n", 1, None, ["missing required `company`"]),
    ("company:\n", 1, "company", ["missing value"]),
    ("company: 42\n", 1, "company", ["expected text, got a number", "quotes"]),
    ("company: '  '\n", 1, "company", ["must not be empty"]),
])
def test_company_checks(tmp_path: pathlib.Path, text: str, line: int, key: str | None,
                        words: list[str]) -> None:
    assert_err(error(tmp_path, text), line, key, *words)


def test_unknown_top_level_key_suggests(tmp_path: pathlib.Path) -> None:
    err = error(tmp_path, "company: C\nprodcuts:\n  - {id: a, name: A}\n")
    assert_err(err, 2, "prodcuts", "unknown key", "did you mean `products`?")


def test_section_of_wrong_type(tmp_path: pathlib.Path) -> None:
    assert_err(error(tmp_path, "company: C\nproducts:\n  id: a\n"), 3, "products",
               "expected a list of entries, got a mapping")
    assert_err(error(tmp_path, "company: C\ncompliance: [a]\n"), 2, "compliance", "expected a mapping")
    assert_err(error(tmp_path, "company: C\nassistant: Bob\n"), 2, "assistant", "expected a mapping")


def test_item_missing_required_field(tmp_path: pathlib.Path) -> None:
    err = error(tmp_path, MINI + "  - id: pro\n    price: $9\n")
    assert_err(err, 8, "products[1]", "missing required `name`")


def test_item_missing_within_s(tmp_path: pathlib.Path) -> None:
    err = error(tmp_path, "company: C\ncompliance:\n  required:\n    - id: rec\n      phrases: [recorded]\n")
    assert_err(err, 4, "compliance.required[0]", "missing required `within_s`")


def test_unknown_key_in_item(tmp_path: pathlib.Path) -> None:
    err = error(tmp_path, MINI.replace("    price:", "    alias: [b]\n    price:"))
    assert_err(err, 5, "products[0].alias", "unknown key `alias`", "did you mean `aliases`?")


@pytest.mark.parametrize("bad_id", ["Basic", "basic plan", "basic_plan", "'x!'"])
def test_bad_id(tmp_path: pathlib.Path, bad_id: str) -> None:
    err = error(tmp_path, MINI.replace("id: basic", f"id: {bad_id}"))
    assert_err(err, 3, "products[0].id", "must match [a-z0-9-]+")


def test_duplicate_id_in_same_file(tmp_path: pathlib.Path) -> None:
    text = "company: C\nfacts:\n  - id: a\n    text: A.\n  - id: a\n    text: B.\n"
    assert_err(error(tmp_path, text), 5, "facts[1].id", "duplicate id `a`", "first defined at line 3")


def test_offer_must_name_a_product(tmp_path: pathlib.Path) -> None:
    text = MINI + "opportunities:\n  - id: up\n    signals: [more]\n    say: Upgrade.\n    offer: gold\n"
    assert_err(error(tmp_path, text), 12, "opportunities[0].offer", "`gold` is not a product id", "basic")


@pytest.mark.parametrize("value,words", [
    ("-5", ["must be a positive number"]), ("0", ["must be a positive number"]),
    ("'90'", ["expected a positive number", "got text"]), (".nan", ["positive number"]),
])
def test_deadline_must_be_positive_number(tmp_path: pathlib.Path, value: str, words: list[str]) -> None:
    text = f"company: C\nprocess:\n  - id: ask\n    phrases: [how soon]\n    by_s: {value}\n"
    assert_err(error(tmp_path, text), 5, "process[0].by_s", *words)


def test_number_where_text_expected(tmp_path: pathlib.Path) -> None:
    err = error(tmp_path, MINI.replace('"$10 per month"', "10"))
    assert_err(err, 5, "products[0].price", "expected text, got a number")
    err = error(tmp_path, MINI.replace("- Includes email support.", "- 2024-01-01"))
    assert_err(err, 7, "products[0].facts[0]", "got a date")


def test_empty_phrases_and_signals(tmp_path: pathlib.Path) -> None:
    text = "company: C\ncompliance:\n  forbidden:\n    - id: g\n      phrases: []\n"
    assert_err(error(tmp_path, text), 5, "compliance.forbidden[0].phrases", "must not be empty")
    text = "company: C\npromotions:\n  - id: p\n    text: Promo.\n    signals: [ok, 3]\n"
    assert_err(error(tmp_path, text), 5, "promotions[0].signals[1]", "expected text")


def test_duplicate_key_in_mapping(tmp_path: pathlib.Path) -> None:
    text = "company: C\nfacts:\n  - id: a\n    text: A.\n    text: B.\n"
    assert_err(error(tmp_path, text), 5, "facts[0].text", "duplicate key", "first at line 4")


def test_not_utf8(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("company: Caf\xe9\n".encode("latin-1"))
    with pytest.raises(KBError, match=r"latin\.yaml: not UTF-8"):
        load_kb(path)


def test_load_kb_text_source_and_error_format() -> None:
    with pytest.raises(KBError) as info:
        load_kb_text("company: C\nfacts: 3\n", source="inline.yaml")
    assert str(info.value) == "inline.yaml:2: facts: expected a list of entries, got a number"
    assert str(KBError("f.yaml", None, None, "boom")) == "f.yaml: boom"
    assert str(KBError("f.yaml", 3, None, "boom")) == "f.yaml:3: boom"


def test_control_character_is_reported_with_its_line(tmp_path: pathlib.Path) -> None:
    assert_err(error(tmp_path, "company: C\nfacts:\n  - {id: a, text: \"x\x07\"}\n"), 3, None,
               "invalid YAML", "unacceptable character")


def test_merge_keys_and_null_sections_are_accepted() -> None:
    kb = load_kb_text("company: C\nx-base: &b {name: Base, price: '$1'}\nproducts:\n  - <<: *b\n"
                      "    id: a\nfacts:\ncompetitors: ~\n")
    assert kb.products[0].name == "Base" and kb.competitors == ()


def test_the_kb_directory_is_the_default_company() -> None:
    """`--kb kb/` (the README's main job) loads the top-level KB; the other
    industries live in kb/examples/ so they are not merged into it."""
    kb = load_kb(ROOT / "kb")
    assert kb.company == "Acme Business Networks"
    assert {p.id for p in kb.products} == {"standard", "premium", "multi-site"}


def test_alias_matcher_finds_the_longest_name_among_thousands() -> None:
    """Names are matched as one prefix tree: the longest name at a place wins,
    spaces, hyphens and none are the same, a possessive still names it, and a
    name inside a longer word does not count - with 3,000 names as with 3."""
    from intervene.kb.index import AliasMatcher
    names = {f"gen-{i}": [f"plan {i}", f"Saver {i} bundle"] for i in range(1500)}
    names["pp"] = ["premium plus"]
    names["p"] = ["premium"]
    m = AliasMatcher(names)
    text = "Plan 12 or plan-120, the Premium-Plus or Premium's, saver 7 bundle, not plan 1234x or premiumplusses"
    found = [(text[a:b], owner) for a, b, owner in m.spans(text)]
    assert found == [("Plan 12", "gen-12"), ("plan-120", "gen-120"), ("Premium-Plus", "pp"),
                     ("Premium's", "p"), ("saver 7 bundle", "gen-7")]
    assert [o for _, _, o in m.spans("premiumplus and plan12")] == ["pp", "gen-12"]


def test_embeddings_do_not_depend_on_what_they_are_batched_with(embedder) -> None:
    """The encoder batches texts of similar length together and pads each batch:
    a clause's vector is the same alone, beside a long sentence, or in any order,
    and the in-process backend (ONNX Runtime where it loads) agrees with PyTorch."""
    import numpy as np

    from intervene.nlp.embed import SentenceEmbedder
    texts = ["ok", "Premium's 89 a month", "covers up to 100 devices",
             "Then you'd want Premium, since Standard tops out at 25 devices and a tech installs it.",
             "Premium's 89 a month, covers up to 100 devices, and a tech installs it for you."]
    fresh = SentenceEmbedder()
    together = fresh.encode(texts)
    fresh.clear_cache()
    alone = np.vstack([fresh.encode([t]) for t in reversed(texts)])[::-1]
    assert together.shape == (5, alone.shape[1])
    assert (together * alone).sum(1).min() > 0.9999
    torch_only = SentenceEmbedder(backend="torch")
    assert (torch_only.encode(texts) * together).sum(1).min() > 0.999


def test_a_new_export_of_the_embedding_model_replaces_the_old_ones(tmp_path) -> None:
    """Each install of the model package is exported to ONNX once (90 MB); a
    reinstall or upgrade makes a new export, which must remove the same
    model's earlier ones and those named the old way, and leave other models'
    exports and other files alone."""
    from intervene.nlp.embed import SentenceEmbedder
    from intervene.nlp.onnxrt import prune_exports
    for name in ("aaaaaaaaaaaa-00000001.onnx", "aaaaaaaaaaaa-00000002.onnx", "bbbbbbbbbbbb-00000001.onnx",
                 "0123456789abcdef.onnx", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    keep = tmp_path / "aaaaaaaaaaaa-00000003.onnx"
    keep.write_bytes(b"new")
    gone = prune_exports(keep)
    assert sorted(p.name for p in gone) == ["0123456789abcdef.onnx", "aaaaaaaaaaaa-00000001.onnx",
                                            "aaaaaaaaaaaa-00000002.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aaaaaaaaaaaa-00000003.onnx",
                                                          "bbbbbbbbbbbb-00000001.onnx", "notes.txt"]
    # the key names the model first, then the install
    key = SentenceEmbedder()._cache_key()
    assert len(key.split("-")) == 2 and key.split("-")[0] == SentenceEmbedder()._cache_key().split("-")[0]
    assert key.split("-")[0] != SentenceEmbedder(str(tmp_path))._cache_key().split("-")[0]
