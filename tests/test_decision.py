"""decide(): plain data in, a Decision out, under real policies built from presets and files."""

from __future__ import annotations

import pytest

from uvguard.decision import Situation, decide
from uvguard.policy import load_policy


def policy(sandbox, preset="default", text=None):
    env = sandbox.env()
    if text is not None:
        path = sandbox.home / ".config" / "uvguard" / "policy.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    else:
        env["UVGUARD_POLICY"] = preset
    return load_policy(env, sandbox.work)


LIVE = dict(linked_environments=("/p/.venv", "/q/.venv"), breaking_environments=("/p/.venv",),
            protected_entries=("archive-v0/abc",))


@pytest.mark.parametrize("operation, preset, action", [
    ("prune", "default", "limit"),
    ("prune-ci", "default", "limit"),
    ("clean", "default", "refuse"),
    ("clean-packages", "default", "limit"),
    ("clean", "strict", "refuse"),
    ("prune", "strict", "refuse"),
    ("clean", "ci", "limit"),
    ("clean", "permissive", "warn"),
    ("prune-ci", "permissive", "warn"),
])
def test_removing_a_live_entry_is_decided_by_the_operation_key(sandbox, operation, preset, action):
    decision = decide(Situation(operation, symlink_active=True, **LIVE), policy(sandbox, preset))
    assert (decision.action, decision.decided_by.key) == (action, operation)
    assert decision.protected_entries == ("archive-v0/abc",)
    assert decision.breaking_environments == ("/p/.venv",)
    assert decision.live_environments == ("/p/.venv", "/q/.venv")


def test_links_engage_the_policy_even_when_symlink_mode_is_off_now(sandbox):
    decision = decide(Situation("prune-ci", symlink_active=False, **LIVE), policy(sandbox))
    assert decision.action == "limit"
    assert "would remove 1 cache entry that 1 environment links to" in decision.reason


def test_not_engaged_runs_silently(sandbox):
    decision = decide(Situation("clean"), policy(sandbox, "strict"))
    assert (decision.action, decision.decided_by) == ("allow", None)
    assert "symlink mode is not active" in decision.reason


def test_engaged_but_nothing_live_removed_is_allowed(sandbox):
    situation = Situation("prune", symlink_active=True, linked_environments=("/p/.venv",))
    decision = decide(situation, policy(sandbox, "strict"))
    assert (decision.action, decision.decided_by) == ("allow", None)


def test_unknown_when_symlink_active_and_no_environment_known(sandbox):
    situation = Situation("prune", symlink_active=True, symlink_source="link-mode = symlink, from UV_LINK_MODE")
    decision = decide(situation, policy(sandbox))
    assert (decision.action, decision.decided_by.key) == ("warn", "unknown")
    assert "from UV_LINK_MODE" in decision.reason
    assert decide(situation, policy(sandbox, "strict")).action == "refuse"


def test_uncertain_engages_even_without_symlink_mode(sandbox):
    situation = Situation("prune", uncertain=("/locked/.venv",))
    decision = decide(situation, policy(sandbox))
    assert (decision.action, decision.decided_by.key) == ("refuse", "uncertain")
    assert decision.to_json()["uncertain"] is True
    assert decision.to_json()["uncertain_reasons"] == ["/locked/.venv"]


def test_the_strictest_applicable_key_wins(sandbox):
    situation = Situation("prune", symlink_active=True, uncertain=("/locked",), **LIVE)
    decision = decide(situation, policy(sandbox))  # prune = limit, uncertain = refuse
    assert (decision.action, decision.decided_by.key) == ("refuse", "uncertain")
    relaxed = policy(sandbox, text='uncertain = "warn"\n')
    decision = decide(situation, relaxed)
    assert (decision.action, decision.decided_by.key) == ("limit", "prune")


def test_a_tie_goes_to_the_operation_key(sandbox):
    situation = Situation("clean", symlink_active=True, uncertain=("/locked",), **LIVE)
    decision = decide(situation, policy(sandbox, "strict"))
    assert decision.decided_by.key == "clean"


def test_decided_by_names_the_file_and_line(sandbox):
    decision = decide(Situation("prune", symlink_active=True, **LIVE),
                      policy(sandbox, text='# team\nprune = "warn"\n'))
    data = decision.to_json()["decided_by"]
    assert data["layer"] == "user" and data["line"] == 2 and data["key"] == "prune"
    assert data["file"].endswith("/.config/uvguard/policy.toml")
    assert data["locked"] is False


def test_passthrough_is_allowed(sandbox):
    assert decide(Situation("passthrough", symlink_active=True, **LIVE), policy(sandbox)).action == "allow"


def test_no_cache_at_all_is_allowed_even_when_unknown(sandbox):
    situation = Situation("clean", cache_exists=False, symlink_active=True)
    decision = decide(situation, policy(sandbox, "strict"))
    assert (decision.action, decision.reason) == ("allow", "there is no cache: nothing to remove")


def test_clean_packages_reason_names_the_packages(sandbox):
    situation = Situation("clean-packages", packages=("purepkg", "otherpkg"), symlink_active=True, **LIVE)
    decision = decide(situation, policy(sandbox, "strict"))
    assert decision.reason == "`uv cache clean purepkg otherpkg` would remove 1 cache entry that 1 environment links to"
