"""``indsats seal``: sign a checkpoint of the whole history (admins; the worker does it nightly)."""

from __future__ import annotations

import click

from indsats.i18n import _
from indsats.commands.base import Obj, pass_obj


@click.command()
@click.option("--show", is_flag=True, help="Print the latest seal instead of writing one.")
@click.option("--to", "to", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also append the seal to FILE (a copy kept elsewhere), beside the seal file.")
@click.option("--json", "as_json", is_flag=True)
@pass_obj
def seal(obj: Obj, show: bool, to: str | None, as_json: bool) -> None:
    """Sign a checkpoint: every case's chain head and the organisation chain, under the signing key."""
    from indsats.commands.render import echo_json, local

    if show and to:
        raise click.UsageError(_("--show prints the latest seal; --to is for writing one"))
    done = obj.run("seal", show=show, copy=to is not None)
    if to is not None and done.copy is not None:
        from pathlib import Path

        from indsats.adapters.seal_file import SealFile

        SealFile(Path(to)).append(done.copy)  # the copy is written here, as the caller
    found = done.seal
    if found is None:
        if as_json:
            echo_json(None)
        else:
            click.echo(_("No seal yet: run 'indsats seal'."))
        return
    content = found.content
    if as_json:
        echo_json({**content, "signature": found.signature})
        return
    said = (_("Latest seal {seq} at {at}: {cases} case(s), {events} event(s), {org} organisation event(s); "
              "root {root}…, key {key}.") if show else
            _("Sealed {seq} at {at}: {cases} case(s), {events} event(s), {org} organisation event(s); "
              "root {root}…, key {key}."))
    click.echo(said.format(seq=found.seq, at=local(found.at), cases=content["cases"], events=content["events"],
                           org=content["org"]["seq"], root=content["root"][:16], key=content["key_id"]))
    if not show and done.appended_to is not None:
        if to:
            click.echo(_("Appended to {file} and {copy}.").format(file=done.appended_to, copy=to))
        else:
            click.echo(_("Appended to {file}.").format(file=done.appended_to))
