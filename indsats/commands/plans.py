"""The plan author's commands: list, show, validate, export and draw plans."""

from __future__ import annotations

from typing import Any

import click

from indsats.i18n import N_, _, ngettext
from indsats.commands.base import Obj, json_option, pass_obj
from indsats.errors import Invalid


@click.group()
def plans() -> None:
    """List, show and validate plans."""


@plans.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def plans_list(obj: Obj, as_json: bool) -> None:
    """The plans available for new cases; flags a plan past its revision date."""
    from indsats.commands.render import echo_json, table

    listed = obj.run("plans.list")
    for message in listed.rejected:
        click.echo(_("Warning: not offered: {message}").format(message=message), err=True)
    found = listed.plans
    if as_json:
        echo_json(found)
        return
    table(
        _("Plans"),
        [_("id"), _("title"), _("version"), _("approved"), _("revise by"), _("status"), _("file")],
        [
            [p.id, p.title, p.version, p.approved_on or "", p.revision_due or "",
             _("REVISION OVERDUE") if p.revision_overdue else _("ok"), p.path]
            for p in found
        ],
    )


@plans.command("show")
@click.argument("plan_id", metavar="PLAN")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def plans_show(obj: Obj, plan_id: str, as_json: bool) -> None:
    """States, deadlines, who must act, and the triggers with who may fire them."""
    from indsats.commands.render import echo_json, table

    plan = obj.run("plans.show", plan_id=plan_id)
    if as_json:
        echo_json(plan.document)
        return
    click.echo(_("{title}  ({id}, version {version})").format(title=plan.title, id=plan.id, version=plan.version))
    table(_("States"), [_("state"), _("label"), _("who must act"), _("deadline"), _("escalate after / repeat")],
          plan.states)
    table(_("Triggers"), [_("trigger"), _("from"), _("to"), _("who may fire"), _("fields (* required)")],
          plan.triggers)


@plans.command("validate")
@click.argument("path", metavar="FILE|-", type=click.Path(dir_okay=False, allow_dash=True))
@json_option
@pass_obj
def plans_validate(obj: Obj, path: str, as_json: bool) -> None:
    """Check a plan file completely: schema, durations, reachability, dead ends, who may fire each trigger, and
    (when a database is reachable) whether the registered users can carry a case through it. Errors exit 5."""
    result = obj.run("plans.validate", source=path, text=_plan_text(path))
    lines = [
        f"{path}{f':{f.line}' if f.line else ''}: {severity(f)}: {f.location}: {f.message}" for f in result.findings
    ]
    _show_findings(lines, result.findings, as_json, lambda valid: {
        "file": path, "valid": valid, "plan_id": result.plan_id, "plan_version": result.plan_version,
        "findings": [_finding(path, f) for f in result.findings],
        "users_checked": result.users_checked, "users_skipped_because": result.users_skipped_because})
    if as_json:
        return
    if not result.users_checked:
        click.echo(_("Registered users not checked: {why}.").format(why=result.users_skipped_because))
    if lines:
        said = ngettext("{path}: plan '{plan_id}' is valid (version {version}), {n} warning.",
                        "{path}: plan '{plan_id}' is valid (version {version}), {n} warnings.", len(lines))
    else:
        said = _("{path}: plan '{plan_id}' is valid (version {version}).")
    click.echo(said.format(path=path, plan_id=result.plan_id, version=result.plan_version, n=len(lines)))


# How a finding's severity reads (``--json`` keeps "error" and "warning").
SEVERITY = {"error": N_("error"), "warning": N_("warning")}


def severity(finding: Any) -> str:
    """How bad a finding is, in the reader's words."""
    return _(SEVERITY.get(finding.severity.value, finding.severity.value))


def _show_findings(lines: list[str], findings: Any, as_json: bool, document: Any) -> None:
    """Print the findings (one line each, or ``document(valid)`` as JSON); any error exits 5 naming the first."""
    errors = [line for line, f in zip(lines, findings, strict=True) if f.severity.value == "error"]
    if as_json:
        from indsats.commands.render import echo_json

        echo_json(document(not errors))
    else:
        for line in lines:
            click.echo(line)
    if errors:
        raise Invalid(_("{n} problem(s): {first}").format(n=len(errors), first=errors[0]))


@plans.command("check")
@click.argument("plan_id", metavar="PLAN")
@click.option("--org", "with_org", is_flag=True,
              help="Also check today's organisation: every state whose responsible cannot be resolved.")
@json_option
@pass_obj
def plans_check(obj: Obj, plan_id: str, with_org: bool, as_json: bool) -> None:
    """Check a plan on offer; with --org, against the registered users and their grants. Errors exit 5."""
    result = obj.run("plans.check", plan_id=plan_id, org=with_org)
    lines = [f"{plan_id}: {severity(f)}: {f.location}: {f.message}" for f in result.findings]
    _show_findings(lines, result.findings, as_json, lambda valid: {
        "plan_id": plan_id, "valid": valid, "organisation_checked": with_org,
        "findings": [_finding(None, f) for f in result.findings]})
    if as_json:
        return
    click.echo((_("{plan_id}: no problems.") if with_org else
                _("{plan_id}: no problems (organisation not checked: add --org).")).format(plan_id=plan_id))


@plans.command("export")
@click.argument("plan_id", metavar="PLAN")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout (- is stdout).")
@json_option
@pass_obj
def plans_export(obj: Obj, plan_id: str, fmt: str, output: str | None, as_json: bool) -> None:
    """The plan as a document in the template's sections, contacts filled from the registered users."""
    _write_out(obj.run("plans.export", plan_id=plan_id, fmt=fmt, draft=_draft(plan_id)), output,
               as_json=as_json, plan_id=plan_id, fmt=fmt)


@plans.command("graph")
@click.argument("plan_id", metavar="PLAN")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid", show_default=True)
@click.option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout (- is stdout).")
@json_option
@pass_obj
def plans_graph(obj: Obj, plan_id: str, fmt: str, output: str | None, as_json: bool) -> None:
    """The plan's states and transitions as a diagram (svg needs Graphviz's 'dot')."""
    if fmt == "svg":
        from indsats.adapters.graphviz import svg

        text = svg(obj.run("plans.graph", plan_id=plan_id, fmt="dot", draft=_draft(plan_id)))
    else:
        text = obj.run("plans.graph", plan_id=plan_id, fmt=fmt, draft=_draft(plan_id))
    _write_out(text, output, as_json=as_json, plan_id=plan_id, fmt=fmt)


def _draft(plan: str) -> str | None:
    """An author's draft's text: PLAN names a file (``*.yaml``, any existing file, or ``-`` for stdin) rather
    than a plan id."""
    from pathlib import Path

    path = Path(plan)
    if plan == "-" or plan.endswith((".yaml", ".yml")) or path.is_file():
        return _plan_text(plan)
    return None


def _plan_text(path: str) -> str:
    """A plan file's text, or stdin's for ``-``; ``Invalid`` (exit 5) when it is not UTF-8 text."""
    from pathlib import Path

    from indsats.adapters.plan_files import read_plan_text

    if path == "-":
        from indsats.commands.render import read_input

        return read_input("-", "plan")
    return read_plan_text(Path(path))


def _write_out(text: str, output: str | None, *, as_json: bool, plan_id: str, fmt: str) -> None:
    """The document to ``output`` (``-`` or none: stdout). Under --json, stdout is one object: the file written,
    or the document itself as ``text`` when it goes to stdout."""
    from indsats.commands.render import echo_json, write_output

    if as_json:
        to_file = output not in (None, "-")
        if to_file:
            write_output(text, output)
        echo_json({"plan_id": plan_id, "format": fmt, "file": output if to_file else None,
                   "text": None if to_file else text})
        return
    if write_output(text, output):
        click.echo(_("Wrote {file}.").format(file=output))


def _finding(path: str | None, f: Any) -> dict[str, object]:
    """A finding (``indsats.engine.plans.checks.Finding``, or its copy from the server) as JSON."""
    return {"file": path, "line": f.line, "severity": f.severity.value, "field": f.location, "message": f.message}
