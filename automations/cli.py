"""The `cantines` command: a thin layer over library calls. Only this module (and the worker) reads
the clock and the environment; everything below takes `today` and settings as parameters."""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from connectors.errors import CantinesError, ConfigurationError, LockBusyError, StopRequested

from automations.settings import DEFAULT_CONFIG, Settings, load_settings, placeholder_problems
from automations.domain.french import pluriel

# Exit codes, for a PaaS scheduler or a person (README, "Commands"): 0 the run went to the end (data
# problems are listed, not fatal); 1 it failed; 2 the configuration is wrong; 3 it is incomplete (a
# table could not be read) or was interrupted (SIGTERM); 4 it went to the end but delivery failed or
# was cut short (messages left pending or held).
EXIT_OK, EXIT_PROBLEM, EXIT_CONFIG, EXIT_INCOMPLETE, EXIT_DELIVERY = 0, 1, 2, 3, 4

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=None, envvar="CANTINES_CONFIG", show_envvar=True,
    help=f"Settings file (TOML). Default: {DEFAULT_CONFIG} in the current folder.",
)
today_option = click.option(
    "--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
    help="Run as if today were this date (YYYY-MM-DD), to replay a run. Default: today in Europe/Paris.",
)


def settings_or_exit(path: Path | None) -> Settings:
    """Load the settings, or print one line per problem and exit 2."""
    try:
        return load_settings(path, os.environ)
    except ConfigurationError as exc:
        label = "Erreurs de configuration" if len(exc.problems) > 1 else "Erreur de configuration"
        echo(f"{label} ({path or DEFAULT_CONFIG}) :", err=True)
        for problem in exc.problems:
            echo(f"  - {problem}", err=True)
        sys.exit(EXIT_CONFIG)


def clock_for(settings: Settings) -> Callable[[], dt.datetime]:
    tz = settings.timezone
    return lambda: dt.datetime.now(tz)


def resolve_today(settings: Settings, today: dt.datetime | None) -> dt.date:
    return today.date() if today is not None else clock_for(settings)().date()


def echo(message: object = "", *, err: bool = False) -> None:
    """click.echo, with every secret of the environment masked (an error text may quote one)."""
    from automations.settings.secrets import mask, secret_values

    click.echo(mask(str(message), secret_values(os.environ)), err=err)


def run_exit_code(report: Any) -> int:
    """What a run's exit code says: failed, incomplete or interrupted, delivery failed, or fine."""
    if report.fatal:
        return EXIT_PROBLEM
    if report.stopped or report.incomplete:
        return EXIT_INCOMPLETE
    if report.send_failures or report.deferred:
        return EXIT_DELIVERY
    return EXIT_OK


def fail(message: str, code: int = EXIT_PROBLEM) -> None:
    echo(f"Erreur : {message}", err=True)
    sys.exit(code)


# click's own usage errors, as staff read them (click prints them in English, after "Error:")
CLICK_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"No such option '([^']+)'\. Did you mean '([^']+)'\?"), r"option « \1 » inconnue (vouliez-vous dire « \2 » ?)"),
    (re.compile(r"No such option '([^']+)'\.?(.*)"), r"option « \1 » inconnue\2"),
    (re.compile(r"No such command '([^']+)'\.?"), r"commande « \1 » inconnue (voir cantines --help)"),
    (re.compile(r"Missing option '([^']+)'\.?"), r"l'option « \1 » est obligatoire"),
    (re.compile(r"Missing argument '([^']+)'\.?"), r"l'argument « \1 » est obligatoire"),
    (re.compile(r"Got unexpected extra arguments? \((.+)\)"), r"argument en trop : « \1 »"),
    (re.compile(r"Option '([^']+)' requires an argument\.?"), r"l'option « \1 » attend une valeur"),
    (re.compile(r"Invalid value for '--today': '([^']+)' does not match the format '%Y-%m-%d'\.?"),
     r"--today : « \1 » n'est pas une date AAAA-MM-JJ (par exemple 2026-03-02)"),
    (re.compile(r"Invalid value for '([^']+)': (.+)"), r"valeur invalide pour « \1 » : \2"),
)


def french_click_message(message: str) -> str:
    """click's usage error in French when it is one of the usual ones; as click says it otherwise."""
    for pattern, replacement in CLICK_MESSAGES:
        if pattern.fullmatch(message.strip()):
            return pattern.sub(replacement, message.strip())
    return message


class FrenchGroup(click.Group):
    """A click group whose errors read "Erreur : …" in French instead of click's "Error: …"."""

    def main(  # type: ignore[override]
        self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
        standalone_mode: bool = True, **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.Abort:
            click.echo("Interrompu.", err=True)
            sys.exit(EXIT_PROBLEM)
        except click.ClickException as exc:
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                click.echo(exc.ctx.get_usage(), err=True)
                command = exc.ctx.command_path
                click.echo(f"Aide : {command} --help\n", err=True)
            click.echo(f"Erreur : {french_click_message(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=FrenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log every step (to standard error).")
def cli(verbose: bool) -> None:
    """cantines-worker: funding opportunities, deadlines, reminders and report drafts for
    Les Petites Cantines, from the tables the team already uses.

    \b
    Examples:
      cantines demo                                   # one full cycle on local demo data
      cantines check --config config/production.toml  # validate settings and data, write nothing
      cantines run --config config/production.toml --today 2026-03-02 --dry-run
    """
    from automations.logs import configure_cli_logging

    configure_cli_logging(os.environ, verbose=verbose)


@cli.command()
@config_option
@today_option
@click.option("--dry-run", is_flag=True, help="Read and compute, print what would be sent; write and queue nothing.")
def run(config_path: Path | None, today: dt.datetime | None, dry_run: bool) -> None:
    """Run one full cycle: read the tables, report data problems, queue and send reminders, write
    the Problèmes and Journal tabs.

    Exits 0 when the run went to the end (data problems are listed, not fatal), 1 when it failed,
    2 on a configuration error, 3 when it is incomplete (a table could not be read) or was stopped
    (SIGTERM: the message being sent finishes, the others stay pending), 4 when delivery failed or
    ran out of time (messages left pending or held).

    \b
    Example:
      cantines run --config config/demo.toml --today 2026-03-02
    """
    from automations.cycle.run import run_cycle
    from automations.stopping import StopSignals
    from automations.summary import format_report

    settings = settings_or_exit(config_path)
    day = resolve_today(settings, today)
    signals = StopSignals().install()
    try:
        report = run_cycle(settings, today=day, clock=clock_for(settings), dry_run=dry_run, stop=signals.event)
    except StopRequested as exc:
        fail(f"{exc}; messages not sent stay pending for the next run", EXIT_INCOMPLETE)
    except LockBusyError as exc:
        fail(f"un autre cycle est en cours ({exc}) : relancez quand il sera terminé")
    except ConfigurationError as exc:
        fail("; ".join(exc.problems), EXIT_CONFIG)
    except CantinesError as exc:
        fail(str(exc))
    finally:
        signals.cancel()
    outbox = settings.mail.outbox_dir / "index.html" if settings.mail.backend == "outbox" else None
    echo(format_report(report, outbox=str(outbox) if outbox else None))
    sys.exit(run_exit_code(report))


@cli.command()
@config_option
@today_option
def check(config_path: Path | None, today: dt.datetime | None) -> None:
    """Validate the settings, the schema and the data, and write nothing.

    Exits 2 on a configuration error, 1 when a table cannot be read, and 0 otherwise, even when
    the data has problems (they are listed for staff to fix).

    \b
    Example:
      cantines check --config config/demo.toml
    """
    from automations.cycle.run import plan
    from automations.summary import format_report

    settings = settings_or_exit(config_path)
    placeholders = placeholder_problems(settings)
    if placeholders:
        label = "Erreurs de configuration" if len(placeholders) > 1 else "Erreur de configuration"
        echo(f"{label} ({settings.path}) :", err=True)
        for problem in placeholders:
            echo(f"  - {problem}", err=True)
        sys.exit(EXIT_CONFIG)
    day = resolve_today(settings, today)
    try:
        report = plan(settings, today=day, clock=clock_for(settings))
    except ConfigurationError as exc:
        fail("; ".join(exc.problems), EXIT_CONFIG)
    except CantinesError as exc:
        fail(str(exc))
    echo(f"Configuration OK ({settings.path}).")
    names = settings.base
    if names.source is not None:  # a base of the team's own: its names, and what it lacks
        echo(f"Noms de la base : {names.source} ({pluriel(len(names.tables), 'table décrite', 'tables décrites')}, "
             f"{pluriel(sum(len(c) for c in names.unmapped().values()), 'colonne absente', 'colonnes absentes')}, "
             f"{pluriel(len(names.absent_tables()), 'table absente', 'tables absentes')})")
    echo(format_report(report))
    if report.errors:
        sys.exit(EXIT_PROBLEM)


@cli.command()
@config_option
@today_option
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to render the messages into (created if needed).")
def preview(config_path: Path | None, today: dt.datetime | None, out: Path) -> None:
    """Render every message the run would send today into a folder, with an index.html to open in a
    browser; nothing is queued, sent or written to the tables.

    \b
    Example:
      cantines preview --config config/demo.toml --today 2026-03-02 --out apercu/
    """
    from automations.cycle.run import plan
    from automations.summary import format_report

    settings = settings_or_exit(config_path)
    day = resolve_today(settings, today)
    try:
        report = plan(settings, today=day, clock=clock_for(settings), out=out)
    except ConfigurationError as exc:
        fail("; ".join(exc.problems), EXIT_CONFIG)
    except CantinesError as exc:
        fail(str(exc))
    echo(format_report(report))
    echo(f"Aperçu : {out / 'index.html'} ({pluriel(len(report.messages), 'message')})")


@cli.command()
@config_option
@today_option
@click.argument("echeance", required=False)
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the drafts (default: [reports] drafts_dir).")
def draft(config_path: Path | None, today: dt.datetime | None, echeance: str | None, out: Path | None) -> None:
    """Render report drafts (Word and Markdown) now: every bilan due within the horizon, or the
    one échéance named (its Intitulé, or part of it). Nothing is emailed or written to the tables.

    \b
    Examples:
      cantines draft --config config/demo.toml --today 2026-11-24
      cantines draft --config config/demo.toml "Bilan final – CONV-2026-01"
    """
    from automations.cycle.drafts import gap_threshold, network_identity, render_draft
    from automations.domain.parsing import fold
    from automations.domain.reports import REPORT_TYPES, build_draft, build_drafts
    from automations.cycle.run import RunReport, load
    from automations.cycle.backends import open_tables

    settings = settings_or_exit(config_path)
    day = resolve_today(settings, today)
    report = RunReport(today=day, started_at=clock_for(settings)(), dry_run=True)
    try:
        dataset = load(settings, open_tables(settings), report)
    except CantinesError as exc:
        fail(str(exc))
    if echeance:
        wanted = fold(echeance)
        items = [i for i in dataset.echeances if wanted in fold(i.title) or wanted == fold(i.key)]
        reports = [i for i in items if i.type in REPORT_TYPES]  # a versement or a visit has no bilan
        if not reports:
            others = f" (seulement : {', '.join(sorted({i.type for i in items}))})" if items else ""
            fail(f"aucun bilan à préparer ne correspond à « {echeance} »{others} ; "
                 f"types de bilans : {', '.join(REPORT_TYPES)}")
        drafts = [build_draft(i, dataset, day, network_identity(settings), gap_threshold(settings)) for i in reports]
    else:
        drafts = build_drafts(dataset, day, settings.reports.horizon_days, network_identity(settings),
                              gap_threshold(settings))
    folder = out or settings.reports.drafts_dir
    for one in drafts:
        files = render_draft(one, settings.paths.templates, folder, network_name=settings.network.name)
        echo(f"{one.title} (à rendre le {one.item.due_on.strftime('%d/%m/%Y')}) : {files.docx}")
    if not drafts:
        echo(f"Aucun bilan à préparer dans les {settings.reports.horizon_days} jours.")


def _init(config_path: Path | None, backend: str | None, with_demo_data: bool, today: dt.datetime | None) -> None:
    from automations.cycle.backends import ensure_schemas, hub_batch
    from automations.demo import demo_rows, fill_tables

    settings = settings_or_exit(config_path)
    try:
        lines, tables = ensure_schemas(settings, backend)
        for line in lines:
            echo(line)
        echo("Schéma à jour." if tables else f"Aucune table n'est dans le backend « {backend} ».")
        if with_demo_data and tables:
            day = resolve_today(settings, today)
            with hub_batch(tables):  # one save, one batchUpdate and one append per tab
                filled = fill_tables(tables, demo_rows(day))
            for line in filled:
                echo(line)
            echo(f"Données de démonstration du {day.strftime('%d/%m/%Y')} chargées.")
    except ConfigurationError as exc:
        fail("; ".join(exc.problems), EXIT_CONFIG)
    except CantinesError as exc:
        fail(str(exc))


def _init_options(function: Any) -> Any:
    function = click.option("--with-demo-data", is_flag=True,
                            help="Then fill the tables with the demo dataset (on a scratch base!).")(function)
    return config_option(today_option(function))


@cli.group(invoke_without_command=True)
@_init_options
@click.pass_context
def init(ctx: click.Context, config_path: Path | None, today: dt.datetime | None, with_demo_data: bool) -> None:
    """Create the missing tables (tabs) and columns of every table, in every backend the settings
    use; never deletes or renames anything, keeps the columns staff added.

    \b
    Examples:
      cantines init --config config/demo.toml
      cantines init airtable --config config/production.toml --with-demo-data
    """
    if ctx.invoked_subcommand is None:
        _init(config_path, None, with_demo_data, today)


@init.command("airtable")
@_init_options
def init_airtable(config_path: Path | None, today: dt.datetime | None, with_demo_data: bool) -> None:
    """Create in an existing Airtable base every missing table and field of the tables bound to
    Airtable (choices included) through the Meta API, and say what was created.

    \b
    Example:
      AIRTABLE_TOKEN=pat… cantines init airtable --config config/production.toml
    """
    _init(config_path, "airtable", with_demo_data, today)


@init.command("sheets")
@_init_options
def init_sheets(config_path: Path | None, today: dt.datetime | None, with_demo_data: bool) -> None:
    """Create the missing tabs and header columns of the tables kept in the hub's Google
    spreadsheet (never deletes anything). Share the spreadsheet with the service account first.

    \b
    Example:
      GOOGLE_SERVICE_ACCOUNT_JSON="$(cat key.json)" cantines init sheets --config config/production.toml
    """
    _init(config_path, "sheets", with_demo_data, today)


@init.command("workbook")
@_init_options
def init_workbook(config_path: Path | None, today: dt.datetime | None, with_demo_data: bool) -> None:
    """Create the missing tabs and columns of the tables kept in the local workbook.

    \b
    Example:
      cantines init workbook --config config/demo.toml
    """
    _init(config_path, "workbook", with_demo_data, today)


@cli.command()
@config_option
@today_option
@click.option("--reset", is_flag=True, help="Regenerate the demo workbook even if today's already exists.")
@click.option("--no-run", is_flag=True, help="Only generate the demo workbook.")
def demo(config_path: Path | None, today: dt.datetime | None, reset: bool, no_run: bool) -> None:
    """Generate the demo workbook for today (if needed) and run one full cycle on it.

    The demo data is fictional and deterministic: the same day always gives the same workbook,
    with dates relative to that day so that reminders are due. Output goes to the folder named in
    the demo settings (demo/ by default), which git ignores.

    \b
    Example:
      cantines demo --today 2026-03-02
    """
    from automations.demo import demo_day, ensure_demo_workbook

    settings = settings_or_exit(config_path)
    day, note = demo_day(resolve_today(settings, today), explicit=today is not None)
    if note:
        echo(note)
        today = dt.datetime.combine(day, dt.time())
    try:
        created = ensure_demo_workbook(settings, day, reset=reset)
    except CantinesError as exc:
        fail(str(exc))
    path = settings.workbook.path
    echo(("Classeur de démonstration créé : " if created else "Classeur de démonstration : ") + str(path))
    if not no_run:
        ctx: Any = click.get_current_context()
        ctx.invoke(run, config_path=config_path, today=today, dry_run=False)


@cli.command()
@config_option
@click.option("--health-port", type=int, default=None,
              help="Also answer HTTP health checks on this port (Clever Cloud expects one on 8080).")
def worker(config_path: Path | None, health_port: int | None) -> None:
    """Run the scheduled worker until stopped (the Procfile's `worker:` process).

    Jobs run at their times in Europe/Paris: the cycle every weekday at 07:30 and the digests on
    Monday at 08:00 by default ([worker] and [digests] settings). On start-up, a job whose last
    success is older than its latest due time runs at once. SIGTERM or SIGINT stops it cleanly.
    Logs go to standard output, one line per event.

    \b
    Example:
      cantines worker --config config/production.toml
    """
    from automations.logs import configure_worker_logging
    from automations.worker import Worker

    settings = settings_or_exit(config_path)
    configure_worker_logging(os.environ)
    the_worker = Worker(settings, clock=clock_for(settings))
    if health_port is not None:
        the_worker.serve_health(health_port)
    the_worker.run_forever()


@cli.command()
@config_option
def status(config_path: Path | None) -> None:
    """Show the last runs and their results, the next due times, pending and held messages, and
    who holds the run lock.

    \b
    Example:
      cantines status --config config/production.toml
    """
    from automations.status import format_status

    settings = settings_or_exit(config_path)
    try:
        echo(format_status(settings, clock_for(settings)()))
    except CantinesError as exc:
        fail(str(exc))


@cli.command("import-aides")
@config_option
@today_option
def import_aides_command(config_path: Path | None, today: dt.datetime | None) -> None:
    """Import the aids of Aides-territoires (the State's public funding database) into Opportunités
    now: new ones « À qualifier », updated ones refreshed in the columns the import owns, staff
    edits kept, nothing deleted. Needs AIDES_TERRITOIRES_TOKEN; the query and the category table are
    in config/aides_territoires.toml.

    \b
    Example:
      AIDES_TERRITOIRES_TOKEN=… cantines import-aides --config config/production.toml
    """
    from automations.cycle.run import AIDES, run_cycle
    from automations.summary import format_report

    settings = settings_or_exit(config_path)
    if not settings.secrets.get("AIDES_TERRITOIRES_TOKEN"):
        fail("définissez la variable AIDES_TERRITOIRES_TOKEN (votre jeton d'API Aides-territoires) pour importer les aides", EXIT_CONFIG)
    from automations.stopping import StopSignals

    signals = StopSignals().install()
    try:
        report = run_cycle(settings, today=resolve_today(settings, today), clock=clock_for(settings),
                           job="aides", parts=frozenset({AIDES}), stop=signals.event)
    except StopRequested as exc:
        fail(str(exc), EXIT_INCOMPLETE)
    except CantinesError as exc:
        fail(str(exc))
    finally:
        signals.cancel()
    echo(format_report(report))
    if report.fatal or report.aides is None:
        sys.exit(EXIT_PROBLEM)


@cli.command()
@click.option("--from", "source_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Settings of the deployment to copy from.")
@click.option("--to", "target_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Settings of the deployment to copy into.")
def copy(source_path: Path, target_path: Path) -> None:
    """Copy every table of one deployment into another (e.g. from a workbook or Google Sheets into
    Airtable when an association moves its data), through the sync engine: rows matched by key,
    only differing cells written; running it again writes nothing. Nothing is deleted.

    \b
    Example:
      cantines copy --from config/demo.toml --to config/production.toml
    """
    from automations.cycle.copying import copy_deployment

    source = settings_or_exit(source_path)
    target = settings_or_exit(target_path)
    try:
        for line in copy_deployment(source, target):
            echo(line)
    except ConfigurationError as exc:
        fail("; ".join(exc.problems), EXIT_CONFIG)
    except CantinesError as exc:
        fail(str(exc))


@cli.command()
@config_option
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the proposed mapping (default: mapping.toml beside the settings file).")
@click.option("--from", "backend", type=click.Choice(["airtable", "sheets", "workbook"]), default=None,
              help="Which base to read (default: the settings' [tables] backend).")
@click.option("--force", is_flag=True, help="Replace the mapping file if it already exists.")
def adopt(config_path: Path | None, out: Path | None, backend: str | None, force: bool) -> None:
    """Read the base the team already has (Airtable, Google spreadsheet or workbook) and propose how
    the worker's tables, columns and choices map onto it, as a mapping file for staff to review.
    Nothing is written to the base.

    Names are matched exactly, then whatever the case and accents, then by synonyms (« courriel »
    for « Email », « Date butoir » for « Date limite »…), then by content (options, links); each
    column's cells are checked against the type expected. What could not be decided is left as a
    commented line to complete. Then: review the file, set `[tables] mapping = "mapping.toml"` in
    the settings, run `cantines check`, then `cantines run`.

    \b
    Examples:
      cantines adopt --config config/production.toml
      cantines adopt --config config/production.toml --out config/mapping.toml --force
    """
    from automations.cycle.adopt import adopt as adopt_base

    settings = settings_or_exit(config_path)
    target = out or settings.path.parent / "mapping.toml"
    try:
        adopted = adopt_base(settings, target, force=force, backend=backend,
                             generated=f" le {clock_for(settings)().strftime('%d/%m/%Y')}")
    except ConfigurationError as exc:
        fail("; ".join(exc.problems), EXIT_CONFIG)
    except CantinesError as exc:
        fail(str(exc))
    for line in adopted.lines:
        echo(line)
    echo(f"Noms proposés : {target} (rien n'a été modifié dans la base). Relisez ce fichier, "
         f"déclarez le fichier dans les réglages ([tables] mapping = \"{target.name}\"), puis lancez "
         "`cantines init` et `cantines check`.")


@cli.command()
@config_option
@click.argument("keys", nargs=-1)
@click.option("--all", "release_all", is_flag=True, help="Release every held message.")
def release(config_path: Path | None, keys: tuple[str, ...], release_all: bool) -> None:
    """Put held messages back in the queue: the next run sends them. A message is held when its
    sending was interrupted and the provider cannot tell whether it went (check its activity log
    first), or when the provider refused it for good (fix the address first). `cantines status`
    lists them with their keys.

    \b
    Examples:
      cantines release --config config/production.toml "reminder:echeance-rapport:…"
      cantines release --config config/production.toml --all
    """
    from automations.cycle.backends import open_state_if_present

    if not keys and not release_all:
        fail("indiquez les messages à remettre en file (leurs clés, voir `cantines status`) ou --all", EXIT_CONFIG)
    settings = settings_or_exit(config_path)
    state = open_state_if_present(settings)
    if state is None:
        fail("pas encore de base d'état : aucun message n'est mis de côté")
    try:
        held = {str(row["idempotency_key"]) for row in state.held()}
        unknown = [key for key in keys if key not in held]
        count = state.release(None if release_all else [key for key in keys if key in held])
    finally:
        state.close()
    echo(f"{pluriel(count, 'message remis', 'messages remis')} en file : {'ils partiront' if count > 1 else 'il partira'} au prochain cycle.")
    if unknown:
        fail("aucun message retenu n'a la clé " + ", ".join(f"« {key} »" for key in unknown)
             + " (`cantines status` liste les messages retenus et leurs clés)")


def main() -> None:
    try:
        cli(prog_name="cantines")
    except Exception as exc:  # a bug: its traceback, without the secrets it may quote
        import sqlalchemy.exc

        from automations.settings.secrets import mask, secret_values

        if isinstance(exc, sqlalchemy.exc.DBAPIError):  # the database, not a bug: one line
            text = f"Error: the state store's database failed: {' '.join(str(exc.orig).split())}\n"
        else:
            text = traceback.format_exc()
        sys.stderr.write(mask(text, secret_values(os.environ)))
        sys.exit(EXIT_PROBLEM)


if __name__ == "__main__":
    main()
