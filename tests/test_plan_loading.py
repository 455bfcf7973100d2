"""Loading a plan runs every check ``plans validate`` runs, and the YAML reader refuses what a plan never is.

A plan in ``INDSATS_PLANS_DIR`` that validate rejects is not offered by ``plans list`` nor accepted by
``open`` (exit 5, naming file, line and field); a key written twice is an error; aliases that expand
past a small bound ("billion laughs") are refused before anything is built; writing an event never
imports pydantic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from indsats.adapters.plan_files import SHIPPED
from indsats.engine.plans.schema import parse_plan
from indsats.errors import Invalid

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from click.testing import Result

SHIPPED_TEXT = (SHIPPED / "radikalisering.yaml").read_text(encoding="utf-8")
ORPHAN = """  orphan:
    label: Glemt
    responsible: {role: leder}
    deadline: 1 working day
"""


def edited(old: str, new: str, text: str = SHIPPED_TEXT) -> str:
    assert text.count(old) == 1, f"{old!r} must appear once"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    return text.count("\n", 0, text.index(needle)) + 1


def unreachable_plan(plan_id: str = "glemt_plan") -> str:
    """The shipped plan under another id, with a state no trigger leads to (and none leads out of)."""
    return edited("  decided:\n", ORPHAN + "  decided:\n", edited("id: radikalisering\n", f"id: {plan_id}\n"))


def one_line_error(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_loading_a_plan_refuses_an_unreachable_state_naming_file_line_and_field() -> None:
    text = unreachable_plan()
    with pytest.raises(Invalid) as raised:
        parse_plan(text, "plans/glemt.yaml")
    assert raised.value.message.startswith(
        f"plans/glemt.yaml:{line_of(text, '  orphan:')}: states.orphan: 'orphan' cannot be reached from 'suspected'"
    )
    assert "(and 1 more)" in raised.value.message  # it is a dead end too


def test_a_plan_validate_rejects_is_not_offered_by_plans_list_nor_accepted_by_open(
    invoke: Callable[..., Result], tmp_path: Path
) -> None:
    assert invoke(["init"]).exit_code == 0  # every command needs a registered actor
    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    broken = plans_dir / "glemt.yaml"
    broken.write_text(unreachable_plan(), encoding="utf-8")
    env = {"INDSATS_PLANS_DIR": str(plans_dir)}
    where = f"{broken}:{line_of(unreachable_plan(), '  orphan:')}: states.orphan"

    validated = invoke(["plans", "validate", str(broken)], **env)
    assert validated.exit_code == 5 and "states.orphan" in validated.output

    listed = invoke(["plans", "list", "--json"], **env)
    assert listed.exit_code == 0, listed.output
    assert "glemt_plan" not in [p["id"] for p in json.loads(listed.stdout)]  # the shipped plans are offered
    assert where in listed.stderr

    assert invoke(["init"], **env).exit_code == 0
    opened = invoke(["open", "glemt_plan", "--subject", "REF-1"], **env)
    assert opened.exit_code == 5
    assert one_line_error(opened).startswith(f"Error: {where}: 'orphan' cannot be reached from 'suspected'")
    # The good plans stay available beside the broken one.
    assert invoke(["plans", "show", "radikalisering"], **env).exit_code == 0


def test_a_broken_override_does_not_fall_back_to_the_shipped_plan(invoke: Callable[..., Result], tmp_path: Path) -> None:
    assert invoke(["init"]).exit_code == 0  # every command needs a registered actor
    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    (plans_dir / "radikalisering.yaml").write_text(unreachable_plan("radikalisering"), encoding="utf-8")
    listed = invoke(["plans", "list", "--json"], INDSATS_PLANS_DIR=str(plans_dir))
    assert listed.exit_code == 0 and "radikalisering" not in [p["id"] for p in json.loads(listed.stdout)]
    shown = invoke(["plans", "show", "radikalisering"], INDSATS_PLANS_DIR=str(plans_dir))
    assert shown.exit_code == 5 and "states.orphan" in one_line_error(shown)


def test_a_key_written_twice_is_an_error_not_a_silent_replacement(invoke: Callable[..., Result], tmp_path: Path) -> None:
    assert invoke(["init"]).exit_code == 0  # every command needs a registered actor
    second = "  assessed:\n    label: Igen\n    final: true\n"
    text = edited("  decided:\n", second + "  decided:\n")
    path = tmp_path / "twice.yaml"
    path.write_text(text, encoding="utf-8")
    result = invoke(["plans", "validate", str(path)])
    assert result.exit_code == 5
    first = line_of(text, "  assessed:\n")
    again = line_of(text, second)
    assert one_line_error(result) == f"Error: {path}:{again}: 'assessed' is written twice (first on line {first})"


def test_a_billion_laughs_file_is_refused_at_once(invoke: Callable[..., Result], tmp_path: Path) -> None:
    assert invoke(["init"]).exit_code == 0  # every command needs a registered actor
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, 10):
        name, below = chr(ord("a") + n), chr(ord("a") + n - 1)
        levels.append(f"{name}: &{name} [{', '.join([f'*{below}'] * 9)}]")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(levels) + "\n", encoding="utf-8")  # 9**10 values if expanded
    result = invoke(["plans", "validate", str(path)])
    assert result.exit_code == 5
    assert "YAML aliases expand to more than" in one_line_error(result)


def test_aliases_within_the_bound_still_load() -> None:
    text = edited("    responsible: {relation: opener}\n", "    responsible: &opener {relation: opener}\n")
    text = edited("    responsible: {relation: opener_leader}\n", "    responsible: *opener\n", text)
    plan = parse_plan(text)
    assert plan.states["leader_notified"].responsible == plan.states["suspected"].responsible


def test_writing_an_event_never_imports_pydantic() -> None:
    code = (
        "import sys\n"
        "import indsats.engine.log.journal, indsats.engine.log.events, indsats.engine.log.canonical\n"
        "print(sorted(m for m in ('pydantic', 'yaml', 'sqlalchemy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_plan_version_that_loaded_once_comes_back_from_the_cache_equal_without_yaml(tmp_path: Path) -> None:
    from indsats.adapters.plan_cache import PlanCacheFolder
    from indsats.adapters.plan_files import PlanFolders
    from indsats.engine.plans.catalog import PlanCatalog

    cache = PlanCacheFolder(tmp_path / "cache")
    first = PlanCatalog(PlanFolders(), cache).get("radikalisering").plan
    entries = list((tmp_path / "cache").glob("plans-*/plan-*.json"))
    assert len(entries) == len(list(SHIPPED.glob("*.yaml")))
    assert all(e.stat().st_mode & 0o777 == 0o600 for e in entries)
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from indsats.adapters.plan_cache import PlanCacheFolder\nfrom indsats.adapters.plan_files import PlanFolders\n"
        "from indsats.engine.plans.catalog import PlanCatalog\n"
        f"plan = PlanCatalog(PlanFolders(), PlanCacheFolder(Path({str(tmp_path / 'cache')!r}))).get('radikalisering').plan\n"
        "print(plan.model_dump_json(by_alias=True)); print('yaml' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[1] == "False"
    assert json.loads(out[0]) == json.loads(first.model_dump_json(by_alias=True))
    assert out[0] == first.model_dump_json(by_alias=True), "the cache keeps the plan's order (its first source)"


def test_a_plan_from_the_cache_keeps_the_order_its_file_gives_states_sources_and_roles(tmp_path: Path) -> None:
    from indsats.adapters.plan_cache import PlanCacheFolder
    from indsats.adapters.plan_files import PlanFolders
    from indsats.engine.plans.catalog import PlanCatalog

    PlanCatalog(PlanFolders(), PlanCacheFolder(tmp_path / "cache")).get("radikalisering")  # writes the cache
    cached = PlanCatalog(PlanFolders(), PlanCacheFolder(tmp_path / "cache")).get("radikalisering").plan
    parsed = parse_plan(SHIPPED_TEXT)
    assert list(cached.states) == list(parsed.states) == [
        "suspected", "leader_notified", "specialist_notified", "assessed", "decided"
    ]
    assert list(cached.sources) == list(parsed.sources) and next(iter(cached.sources)) == "employee"
    assert list(cached.roles) == list(parsed.roles)


def test_a_damaged_cache_entry_is_parsed_again_from_the_text(tmp_path: Path) -> None:
    from indsats.adapters.plan_cache import PlanCacheFolder
    from indsats.adapters.plan_files import PlanFolders
    from indsats.engine.plans.catalog import PlanCatalog

    cache = PlanCacheFolder(tmp_path / "cache")
    expected = PlanCatalog(PlanFolders(), cache).get("radikalisering").plan
    for entry in (tmp_path / "cache").glob("plans-*/plan-*.json"):
        entry.write_text('{"id": "radikalisering"', encoding="utf-8")
    assert PlanCatalog(PlanFolders(), cache).get("radikalisering").plan == expected
