"""The plan author's commands: list, show, validate, export and draw plans."""

from __future__ import annotations

import click

from indsats.cli_base import Obj, pass_obj
from indsats.errors import Invalid


@click.group()
def plans() -> None:
    """List, show and validate plans."""


@plans.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def plans_list(obj: Obj, as_json: bool) -> None:
    """The plans available for new cases; flags a plan past its revision date."""
    from indsats.engine.plans import list_plans
    from indsats.render import echo_json, table

    found = list_plans(obj.context())
    if as_json:
        echo_json(found)
        return
    table(
        "Plans",
        ["id", "title", "version", "approved", "revise by", "status", "file"],
        [
            [p.id, p.title, p.version, p.approved_on or "", p.revision_due or "", "REVISION OVERDUE" if p.revision_overdue else "ok", p.path]
            for p in found
        ],
    )


@plans.command("show")
@click.argument("plan_id", metavar="PLAN")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def plans_show(obj: Obj, plan_id: str, as_json: bool) -> None:
    """States, deadlines, who must act, and the triggers with who may fire them."""
    from indsats.engine.plans import get_plan
    from indsats.render import echo_json, table

    plan = get_plan(obj.context(), plan_id)
    if as_json:
        echo_json(plan.model_dump(mode="json", by_alias=True))
        return
    click.echo(f"{plan.title}  ({plan.id}, version {plan.version})")
    table(
        "States",
        ["state", "label", "who must act", "deadline", "escalate after / repeat"],
        [
            [
                name,
                s.label + (" (final)" if s.final else ""),
                s.responsible.describe() if s.responsible else "",
                s.deadline or "",
                f"{s.reminder.escalate_after} / {s.reminder.repeat}" if s.reminder else "",
            ]
            for name, s in plan.states.items()
        ],
    )
    table(
        "Triggers",
        ["trigger", "from", "to", "who may fire", "fields (* required)"],
        [
            [
                t.trigger,
                ", ".join(t.source),
                t.dest or "(recorded, state unchanged)",
                " or ".join(a.describe() for a in t.allowed),
                ", ".join(f"{n}{'*' if f.required else ''}" for n, f in t.fields.items())
                + (" note*" if t.note_required else ""),
            ]
            for t in plan.transitions
        ],
    )


@plans.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_obj
def plans_validate(obj: Obj, path: str) -> None:
    """Check a plan file completely: schema, durations, reachability, dead ends, who may fire each trigger, and
    (when a database is reachable) whether the registered users can carry a case through it. Errors exit 5."""
    from pathlib import Path

    from indsats.engine.plan_checks import Severity
    from indsats.engine.plans import validate

    result = validate(obj.context(), Path(path))
    lines = [
        f"{path}{f':{f.line}' if f.line else ''}: {f.severity.value}: {f.location}: {f.message}"
        for f in result.findings
    ]
    for line in lines:
        click.echo(line)
    errors = [line for line, f in zip(lines, result.findings) if f.severity is Severity.error]
    if errors:
        raise Invalid(f"{len(errors)} problem(s): {errors[0]}")
    if not result.users_checked:
        click.echo(f"Registered users not checked: {result.users_skipped_because}.")
    assert result.plan is not None
    warnings = f", {len(lines)} warning(s)" if lines else ""
    click.echo(f"{path}: plan '{result.plan.id}' is valid (version {result.plan.version}){warnings}.")


@plans.command("export")
@click.argument("plan_id", metavar="PLAN")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@pass_obj
def plans_export(obj: Obj, plan_id: str, fmt: str, output: str | None) -> None:
    """The plan as a document in the template's sections, contacts filled from the registered users."""
    from indsats.engine.plans import export

    _write_out(export(obj.context(), plan_id=plan_id, fmt=fmt), output)


@plans.command("graph")
@click.argument("plan_id", metavar="PLAN")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@pass_obj
def plans_graph(obj: Obj, plan_id: str, fmt: str, output: str | None) -> None:
    """The plan's states and transitions as a diagram (svg needs Graphviz's 'dot')."""
    from indsats.engine.plans import draw

    _write_out(draw(obj.context(), plan_id=plan_id, fmt=fmt), output)


def _write_out(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    from pathlib import Path


    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Invalid(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"Wrote {output}.")
