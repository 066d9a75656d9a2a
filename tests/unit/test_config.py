"""Tests for intervene.config: the admin's TOML file, profile overrides, and the
rep > team > defaults resolution; every malformed file is one ConfigError that
names the file and what is wrong."""
from __future__ import annotations

import math
import pathlib
import textwrap
from types import SimpleNamespace

import pytest

from intervene.config import Config, ConfigError, load_config
from intervene.core.detect.accuracy import AccuracyDetector
from intervene.core.detect.emotion import arousal
from intervene.core.detect.state import CallState
from intervene.core.policy import PER_CATEGORY, PROFILES, SETTINGS, WHOLE, Profile, setting_range
from intervene.report import tune
from intervene.vocab import Category, Cues, Mode, Severity, Speaker, Utterance

C = Category

FULL = """\
[profiles.standard]
dead_air_s = 7
[profiles.standard.cooldown_s]
emotion = 30

[profiles.calm]
base = "minimal"
dead_air_s = 20
min_gap_s = 10

[defaults]
profile = "standard"
mode = "silent"
[defaults.modes]
accuracy = "voice"

[teams.east]
profile = "training"
[teams.east.modes]
emotion = "voice"

[teams.west]
profile = "calm"

[reps.sam]
team = "east"
mode = "voice"

[reps.ann]
team = "east"
profile = "minimal"

[reps.bob]
team = "west"
name = "Bob B."
email = "bob@example.com"
sip = "PJSIP/201"
[reps.bob.modes]
competitive = "voice"
"""


def write(tmp_path: pathlib.Path, text: str, name: str = "intervene.toml") -> pathlib.Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def config_error(tmp_path: pathlib.Path, text: str, name: str = "bad.toml") -> str:
    p = write(tmp_path, text, name)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert str(p) in msg, msg          # every file error names the file
    return msg


def all_modes(mode: Mode) -> dict[Category, Mode]:
    return {c: mode for c in Category}


# ------------------------------------------------------------------- no file

def test_no_file_gives_builtin_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERVENE_CONFIG", raising=False)
    cfg = load_config(None)
    a = cfg.resolve()
    assert a.profile == PROFILES["standard"]
    assert a.modes == {c: (Mode.VOICE if c is C.ACCURACY else Mode.SILENT) for c in Category}
    assert cfg.resolve(profile="training").profile == PROFILES["training"]


def test_env_var_names_the_file(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write(tmp_path, '[defaults]\nprofile = "minimal"\n')
    monkeypatch.setenv("INTERVENE_CONFIG", str(p))
    assert load_config().resolve().profile.name == "minimal"
    # an explicit path wins over the environment
    q = write(tmp_path, '[defaults]\nprofile = "training"\n', "other.toml")
    assert load_config(q).resolve().profile.name == "training"


def test_unknown_explicit_profile_is_an_error() -> None:
    with pytest.raises(ConfigError, match="nope"):
        Config().resolve(profile="nope")


# ------------------------------------------------------------ profile overrides

def test_profile_overrides(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, FULL))
    std = cfg.profiles["standard"]
    assert std.dead_air_s == 7.0
    assert std.cooldown_s[C.EMOTION] == 30.0
    # cooldowns not mentioned keep the built-in values
    assert std.cooldown_s[C.MOMENTUM] == PROFILES["standard"].cooldown_s[C.MOMENTUM]
    assert std.cooldown_s[C.OPPORTUNITY] == PROFILES["standard"].cooldown_s[C.OPPORTUNITY]
    # everything else unchanged
    assert std.min_severity == PROFILES["standard"].min_severity
    assert std.min_gap_s == PROFILES["standard"].min_gap_s
    # built-in profiles themselves are untouched
    assert PROFILES["standard"].dead_air_s == 6.0
    assert PROFILES["standard"].cooldown_s[C.EMOTION] == 20.0
    assert Config().profiles["standard"].dead_air_s == 6.0


def test_new_profile_based_on_a_builtin(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, FULL))
    calm = cfg.profiles["calm"]
    assert calm.name == "calm"
    assert calm.dead_air_s == 20.0 and calm.min_gap_s == 10.0
    assert calm.min_severity == PROFILES["minimal"].min_severity
    assert calm.emotion_shift == PROFILES["minimal"].emotion_shift
    assert not calm.fires(C.OPPORTUNITY, Severity.HIGH)


def test_min_severity_override(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, """\
        [profiles.strict]
        base = "standard"
        [profiles.strict.min_severity]
        accuracy = "low"
        process = "medium"
        """))
    strict = cfg.profiles["strict"]
    assert strict.fires(C.PROCESS, Severity.MEDIUM)
    assert not strict.fires(C.PROCESS, Severity.LOW)
    assert strict.fires(C.ACCURACY, Severity.LOW)


def test_min_severity_override_keeps_other_categories(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, """\
        [profiles.standard.min_severity]
        process = "low"
        """))
    std = cfg.profiles["standard"]
    assert std.fires(C.PROCESS, Severity.LOW)
    assert std.fires(C.ACCURACY, Severity.HIGH)       # the core correction must survive


# ------------------------------------------------------------------ resolution

def test_defaults_apply_without_rep_or_team(tmp_path: pathlib.Path) -> None:
    a = load_config(write(tmp_path, FULL)).resolve()
    assert a.profile.name == "standard" and a.profile.dead_air_s == 7.0
    assert a.modes == {**all_modes(Mode.SILENT), C.ACCURACY: Mode.VOICE}


def test_team_overrides_defaults(tmp_path: pathlib.Path) -> None:
    a = load_config(write(tmp_path, FULL)).resolve(team="east")
    assert a.profile.name == "training"
    assert a.modes == {**all_modes(Mode.SILENT), C.ACCURACY: Mode.VOICE, C.EMOTION: Mode.VOICE}


def test_rep_gets_their_teams_settings(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, FULL))
    bob = cfg.resolve(rep="bob")
    assert bob.profile.name == "calm"                        # from team west
    assert bob.modes == {**all_modes(Mode.SILENT), C.ACCURACY: Mode.VOICE, C.COMPETITIVE: Mode.VOICE}


def test_rep_overrides_team(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, FULL))
    ann = cfg.resolve(rep="ann")
    assert ann.profile.name == "minimal"                     # rep beats team east's training
    assert ann.modes[C.EMOTION] is Mode.VOICE                # team modes still inherited
    sam = cfg.resolve(rep="sam")
    assert sam.profile.name == "training"                    # from team east
    assert sam.modes == all_modes(Mode.VOICE)                # rep's `mode` beats team and defaults


def test_explicit_team_beats_the_reps_team(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, FULL))
    assert cfg.resolve(rep="bob", team="east").profile.name == "training"


def test_unknown_rep_and_team_fall_back_to_defaults(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, FULL))
    assert cfg.resolve(rep="nobody").profile.name == "standard"
    assert cfg.resolve(team="nowhere").profile.name == "standard"


def test_explicit_profile_and_mode_win(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, FULL))
    a = cfg.resolve(rep="sam", profile="minimal", mode="silent")
    assert a.profile.name == "minimal"
    assert a.modes == all_modes(Mode.SILENT)
    b = cfg.resolve(rep="ann", profile="calm")
    assert b.profile.name == "calm" and b.profile.dead_air_s == 20.0
    c = cfg.resolve(team="east", mode="voice")
    assert c.profile.name == "training" and c.modes == all_modes(Mode.VOICE)


# ---------------------------------------------------------------------- errors

def test_missing_file(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert str(p) in str(info.value)
    assert "no such file" in str(info.value)


def test_invalid_toml_names_file_and_line(tmp_path: pathlib.Path) -> None:
    msg = config_error(tmp_path, '[defaults]\nprofile = "standard"\nmode = silent\n')
    assert "TOML" in msg
    assert "line 3" in msg


def test_unknown_section(tmp_path: pathlib.Path) -> None:
    msg = config_error(tmp_path, '[defaults]\nprofile = "standard"\n[teamz.east]\nprofile = "training"\n')
    assert "teamz" in msg


@pytest.mark.parametrize("section", ["defaults", "teams.east", "reps.sam"])
def test_unknown_key_names_section_and_key(tmp_path: pathlib.Path, section: str) -> None:
    msg = config_error(tmp_path, f'[{section}]\nprofil = "standard"\n')
    assert f"[{section}]" in msg
    assert "profil" in msg


def test_unknown_threshold_names_profile_and_key(tmp_path: pathlib.Path) -> None:
    msg = config_error(tmp_path, "[profiles.standard]\ndead_air = 5\n")
    assert "[profiles.standard]" in msg and "dead_air" in msg


@pytest.mark.parametrize("body,key", [
    ('dead_air_s = "slow"', "dead_air_s"),
    ("[profiles.standard.cooldown_s]\nemoshun = 3", "cooldown_s"),
    ('[profiles.standard.min_severity]\naccuracy = "urgent"', "min_severity"),
])
def test_bad_threshold_value(tmp_path: pathlib.Path, body: str, key: str) -> None:
    text = body if body.startswith("[") else f"[profiles.standard]\n{body}"
    msg = config_error(tmp_path, text + "\n")
    assert key in msg
    assert "profiles.standard" in msg


@pytest.mark.parametrize("text,bad", [
    ('[defaults]\nmode = "loud"\n', "loud"),
    ('[reps.sam]\nmode = "Voice"\n', "Voice"),
    ('[teams.east.modes]\nemotion = "shout"\n', "shout"),
    ('[defaults.modes]\nemotoin = "voice"\n', "emotoin"),
])
def test_bad_mode(tmp_path: pathlib.Path, text: str, bad: str) -> None:
    msg = config_error(tmp_path, text)
    assert bad in msg
    assert "voice" in msg and "silent" in msg          # says what is allowed


@pytest.mark.parametrize("text,who", [
    ('[defaults]\nprofile = "stndard"\n', "defaults"),
    ('[teams.east]\nprofile = "coaching"\n', "east"),
    ('[reps.sam]\nprofile = "coaching"\n', "sam"),
])
def test_unknown_profile(tmp_path: pathlib.Path, text: str, who: str) -> None:
    msg = config_error(tmp_path, text)
    assert "unknown profile" in msg
    assert who in msg
    assert text.split('"')[1] in msg


def test_profile_defined_in_file_is_known(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, '[profiles.calm]\nbase = "minimal"\n[reps.sam]\nprofile = "calm"\n'))
    assert cfg.resolve(rep="sam").profile.name == "calm"


def test_non_utf8_file(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "latin1.toml"
    p.write_bytes(b'[defaults]\nprofile = "standard"\n# caf\xe9\n')
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert str(p) in str(info.value)


def test_modes_not_a_table(tmp_path: pathlib.Path) -> None:
    msg = config_error(tmp_path, '[defaults]\nmodes = "voice"\n')
    assert "modes" in msg


def test_rep_not_a_table(tmp_path: pathlib.Path) -> None:
    msg = config_error(tmp_path, "[reps]\nsam = 5\n")
    assert "sam" in msg


def test_unknown_base_profile(tmp_path: pathlib.Path) -> None:
    msg = config_error(tmp_path, '[profiles.calm]\nbase = "minimul"\n')
    assert "minimul" in msg


def test_listening_options(tmp_path: pathlib.Path) -> None:
    cfg = load_config(write(tmp_path, """
        [vad]
        aggressiveness = 2
        end_ms = 240
        interim_every_s = 2
        [asr]
        model = "/models/small"
        beam_size = 2
    """))
    assert cfg.vad.aggressiveness == 2 and cfg.vad.end_ms == 240 and cfg.vad.interim_every_s == 2.0
    assert cfg.asr.model == "/models/small" and cfg.asr.beam_size == 2 and cfg.asr.compute_type == "int8"
    for bad, needle in [('[vad]\nend_ms = "fast"\n', "`end_ms` must be int"),
                        ('[vad]\nhangover = 3\n', "unknown key `hangover`"),
                        ('[asr]\nbeam_size = true\n', "`beam_size` must be int")]:
        assert needle in config_error(tmp_path, bad)


# ------------------------------------------------- the detectors' thresholds

NUMERIC = [n for n in SETTINGS if n not in PER_CATEGORY]


def other_value(name: str) -> float:
    """A valid value of the setting that is not the standard profile's."""
    now = getattr(PROFILES["standard"], name)
    lo, hi = setting_range(name)
    if name in WHOLE:
        return now + 1
    if now == hi:
        return (lo + hi) / 2
    return (now + hi) / 2 if hi < math.inf else now + 1.5


def test_every_setting_can_be_set_in_the_file(tmp_path: pathlib.Path) -> None:
    """Every threshold of the profile - the policy's and each detector's - is
    reachable from [profiles.X], counts as whole numbers."""
    assert {"signal_sim", "asr_number_sure", "emotion_frustration_sim", "stall_turns"} <= set(NUMERIC)
    body = "".join(f"{n} = {other_value(n)!r}\n" for n in NUMERIC)
    got = load_config(write(tmp_path, "[profiles.standard]\n" + body)).profiles["standard"]
    for n in NUMERIC:
        assert getattr(got, n) == other_value(n) != getattr(PROFILES["standard"], n), n
        assert isinstance(getattr(got, n), int if n in WHOLE else float), n


def test_every_setting_can_be_tried_with_tune_set() -> None:
    over = tune.parse_settings([f"{n}={other_value(n)!r}" for n in NUMERIC])
    got = tune.changed_profile(PROFILES["standard"], over)
    for n in NUMERIC:
        assert getattr(got, n) == other_value(n), n


LOUDER = Utterance(0, Speaker.LEAD, 0.0, 2.0, "What do you mean?", cues=Cues(loudness_rise_db=5.0))


def test_a_profile_setting_reaches_the_detector(tmp_path: pathlib.Path) -> None:
    """A lead 5 dB louder than their own median sounds agitated at the built-in
    4 dB; a team whose profile asks for 6 dB does not hear it."""
    cfg = load_config(write(tmp_path, """\
        [profiles.calm]
        base = "standard"
        arousal_louder_db = 6
        """))
    assert "5 dB louder" in arousal(LOUDER, cfg.profiles["standard"])
    assert arousal(LOUDER, cfg.profiles["calm"]) == ""


class Recorder:
    """A claim checker that only records what it was asked to check."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def check(self, text: str, *context: object) -> SimpleNamespace:
        self.texts.append(text)
        return SimpleNamespace(verdicts=[])


def checked(profile: Profile) -> str:
    """What the accuracy detector checks for the second half of a sentence
    the rep split with a 1.5 s pause."""
    rec = Recorder()
    det = AccuracyDetector(rec, profile)  # type: ignore[arg-type]
    call = CallState()
    for u in (Utterance(0, Speaker.REP, 0.0, 2.0, "It includes a thirty minute lesson"),
              Utterance(1, Speaker.REP, 3.5, 4.5, "right before the test.")):
        call.utterances.append(u)
        det.on_utterance(u, call, u.end)
    return rec.texts[-1]


def test_a_tune_setting_reaches_the_detector() -> None:
    """`tune --set continues_s=2`: a pause of 1.5 s inside a sentence no longer
    splits it, so the claim is checked whole."""
    assert checked(PROFILES["standard"]) == "right before the test."
    tuned = tune.changed_profile(PROFILES["standard"], tune.parse_settings(["continues_s=2"]))
    assert checked(tuned) == "It includes a thirty minute lesson right before the test."


@pytest.mark.parametrize("body, needle", [
    ("signal_sim = 70", "`signal_sim` must be a number from 0 to 1, got 70"),
    ("asr_number_sure = 1.5", "`asr_number_sure` must be a number from 0 to 1"),
    ("emotion_kind_sentiment = -3", "`emotion_kind_sentiment` must be a number from -1 to 1"),
    ("stall_turns = 0", "`stall_turns` must be a whole number of 1 or more, got 0"),
    ("stall_turns = 2.5", "`stall_turns` must be a whole number of 1 or more, got 2.5"),
    ("noisy_line_db = -5", "`noisy_line_db` must be a number of 0 or more"),
    ("dead_air_s = -1", "`dead_air_s` must be a number of 0 or more"),
    ("continues_s = inf", "`continues_s` must be a number of 0 or more"),
    ('hold_sim = "high"', "bad value for `hold_sim`"),
    ("[profiles.standard.cooldown_s]\nemotion = -3", "`cooldown_s.emotion` must be a number of 0 or more"),
])
def test_a_setting_out_of_its_range_is_an_error_naming_it(tmp_path: pathlib.Path, body: str, needle: str) -> None:
    text = body if body.startswith("[") else f"[profiles.standard]\n{body}"
    msg = config_error(tmp_path, text + "\n")
    assert "[profiles.standard]" in msg and needle in msg, msg


@pytest.mark.parametrize("item, needle", [
    ("signal_sim=70", "--set signal_sim=70: expected a number from 0 to 1, got 70"),
    ("stall_turns=2.5", "expected a whole number of 1 or more, got 2.5"),
    ("emotion_aimed_sentiment=-2", "expected a number from -1 to 1"),
    ("noisy_line_db=-5", "expected a number of 0 or more"),
])
def test_a_tune_setting_out_of_its_range_is_an_error_naming_it(item: str, needle: str) -> None:
    with pytest.raises(tune.TuneError) as info:
        tune.parse_settings([item])
    assert needle in str(info.value)
