"""``glyms-b24 sandbox``: the services sync end to end on built-in parts.

PostgreSQL (the server of $GLYMS_B24_SANDBOX_PG_DSN, else an embedded one started here),
seeded Glyms data, the Bitrix24 emulator with OAuth, and a real Dagster run.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg2
import requests

from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
from glyms_b24_pipeline.bitrix24 import progress
from glyms_b24_pipeline.bitrix24.auth import OAuthApp, OAuthAuth, TokenStore
from glyms_b24_pipeline.cli import terminal
from glyms_b24_pipeline.cli.i18n import _
from glyms_b24_pipeline.cli.output import emit
from glyms_b24_pipeline.cli.reasons import translated
from glyms_b24_pipeline.cli.sync import run_sync
from glyms_b24_pipeline.glyms.install import install_sql
from glyms_b24_pipeline.runs.instance import open_instance
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.sandbox.portal import prepare_lab_portal
from glyms_b24_pipeline.sandbox.postgres import (
    EmbeddedPostgres,
    apply_glyms_schema,
    create_database,
    prepare_sandbox_instance,
)
from glyms_b24_pipeline.settings.errors import OperatorError
from glyms_b24_pipeline.settings.model import load_settings

SANDBOX_DB = "glyms_sandbox"
SANDBOX_CLIENT_ID = "local.glyms-b24.sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-secret-not-for-production"
SANDBOX_PG_ENV = "GLYMS_B24_SANDBOX_PG_DSN"

def _database_exists(admin_dsn: str, name: str) -> bool:
    with psycopg2.connect(admin_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cur.fetchone() is not None


def prepare_glyms(admin_dsn: str, services: int, customers: int, hostile: bool = False) -> str:
    """The sandbox Glyms database, created and seeded on first use; returns its DSN."""
    if _database_exists(admin_dsn, SANDBOX_DB):
        params = psycopg2.extensions.parse_dsn(admin_dsn)
        params["dbname"] = SANDBOX_DB
        dsn = psycopg2.extensions.make_dsn(**params)
    else:
        dsn = create_database(admin_dsn, SANDBOX_DB)
        apply_glyms_schema(dsn)
    install_sql(dsn)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM lims.v_prestacion_max_version")
        empty = (cur.fetchone() or (0,))[0] == 0
    if empty:
        summary = seed_glyms(dsn, services=services, customers=customers)
        print(_("Glyms sandbox: {services} services ({active} active), {prices} price versions, {customers} customers")
              .format(services=summary.services, active=summary.active_services, prices=summary.price_rows,
                      customers=summary.customers))
        if hostile:  # what real LIMS data holds: each row ends stored, cleaned or reported, never a failed run
            corpus = load_hostile_corpus()(dsn)
            print(_("hostile corpus: {services} services, {customers} customers "
                    "(glyms_b24_pipeline_tests/sandbox/hostile.py says what each one becomes)")
                  .format(services=len(corpus.services), customers=len(corpus.customers)))
    return dsn


def load_hostile_corpus() -> Any:
    """``seed_hostile`` of the hostile corpus, which lives beside the tests: a checkout has it, a wheel does not."""
    try:
        from glyms_b24_pipeline_tests.sandbox.hostile import seed_hostile
    except ImportError:
        raise OperatorError("--hostile needs the project's checkout (the corpus is in "
                            "glyms_b24_pipeline_tests/sandbox/hostile.py, not in the installed package)") from None
    return seed_hostile


def authorise(portal_url: str, oauth_url: str, dsn: str) -> None:
    """Walk the OAuth flow as an operator would: consent page -> code -> stored tokens."""

    app = OAuthApp(portal_url=portal_url, client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET,
                   oauth_url=oauth_url)
    consent = requests.get(app.authorize_url(state="sandbox"), allow_redirects=False, timeout=10)
    code = parse_qs(urlparse(consent.headers["Location"]).query)["code"][0]
    OAuthAuth(app, TokenStore(dsn, portal_url, SANDBOX_CLIENT_ID)).exchange_code(code)


#: the code location's name, as in the project's workspace.yaml: the UI shows the same name everywhere
LOCATION_NAME = "glyms_b24_pipeline"
DEFINITIONS_MODULE = "glyms_b24_pipeline.definitions"
UI_READY_TIMEOUT_SECONDS = 180.0


#: what the sandbox's commands need, written for the operator's shell (set -a; . FILE; set +a)
SANDBOX_ENV = ("GLYMS_PG_DSN", "B24_PORTAL_URL", "B24_CLIENT_ID", "B24_CLIENT_SECRET", "B24_OAUTH_URL", "DAGSTER_HOME",
               "DAGSTER_PG_URL")


def write_env_file(root: Path) -> Path:
    """The sandbox's environment as a file of NAME='value' lines (only its own, made-up credentials)."""
    path = root / "sandbox.env"
    lines = [f"{name}='{os.environ[name]}'" for name in SANDBOX_ENV if os.environ.get(name)]
    path.write_text("# glyms-b24 sandbox: set -a; . " + str(path) + "; set +a\n" + "\n".join(lines) + "\n",
                    encoding="utf-8")
    path.chmod(0o600)
    return path


def write_workspace(folder: Path) -> Path:
    """A workspace file loading the definitions by module (works from a checkout and from a wheel)."""
    path = folder / "workspace.yaml"
    path.write_text(
        "# Written by glyms-b24 sandbox --ui: the project's code location, loaded by module.\n"
        "load_from:\n"
        "  - python_module:\n"
        f"      module_name: {DEFINITIONS_MODULE}\n"
        f"      location_name: {LOCATION_NAME}\n",
        encoding="utf-8",
    )
    return path


def wait_until_ready(url: str, process: subprocess.Popen, timeout_seconds: float = UI_READY_TIMEOUT_SECONDS) -> bool:
    """True once ``url``/server_info answers; False when the process ended or the time ran out."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/server_info", timeout=2).ok:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def serve_ui(dagster_home: Path, port: int) -> None:
    """``dagster dev`` on the sandbox's instance until Ctrl-C; says where only once the UI answers."""
    url = f"http://127.0.0.1:{port}"
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:  # else a UI already there would pass for ours
            raise OperatorError(f"port {port} is already in use on 127.0.0.1: choose another with --ui-port")
    workspace = write_workspace(dagster_home)
    print(_("starting the Dagster UI on {url} ...").format(url=url), flush=True)
    # run from the instance folder: Dagster warns about a dagster.yaml in the working directory
    # that is not $DAGSTER_HOME's, and loads a .env from there
    ui = subprocess.Popen([sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "-h", "127.0.0.1",
                           "-p", str(port)], cwd=dagster_home)
    try:
        if wait_until_ready(url, ui):
            print(_("Dagster UI on {url} (Ctrl-C to stop the sandbox)").format(url=url), flush=True)
        elif ui.poll() is None:
            print(_("the Dagster UI did not answer on {url} within {seconds:.0f} s; still waiting (Ctrl-C to stop)")
                  .format(url=url, seconds=UI_READY_TIMEOUT_SECONDS), flush=True)
        ui.wait()
    except KeyboardInterrupt:
        # dagster dev shuts its code servers down only on SIGINT; never leave them orphaned
        ui.send_signal(signal.SIGINT)
        ui.wait(timeout=60)
    if ui.returncode not in (0, None, -signal.SIGINT, 130):
        raise OperatorError(f"dagster dev ended with exit code {ui.returncode} (is port {port} free? use --ui-port)")


def sandbox_command(args: argparse.Namespace) -> int:

    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    server = None
    admin_dsn = os.environ.get(SANDBOX_PG_ENV)
    if not admin_dsn:
        server = EmbeddedPostgres(root / "postgres")
        admin_dsn = server.admin_dsn
    emulator = Bitrix24Emulator(EmulatorSettings(), state_file=str(root / "bitrix24_portal.json"))
    try:
        dsn = prepare_glyms(admin_dsn, args.services, args.customers, hostile=getattr(args, "hostile", False))
        emulator.start(host="127.0.0.1", port=0)
        emulator.register_app(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, redirect_uri="http://localhost/")
        prepare_lab_portal(emulator, load_settings())
        authorise(emulator.portal_url, emulator.oauth_url, dsn)
        dagster_home = prepare_sandbox_instance(admin_dsn, root / "dagster_home")  # run history in PostgreSQL too
        os.environ.update(
            GLYMS_PG_DSN=dsn,
            B24_PORTAL_URL=emulator.portal_url,
            B24_CLIENT_ID=SANDBOX_CLIENT_ID,
            B24_CLIENT_SECRET=SANDBOX_CLIENT_SECRET,
            B24_OAUTH_URL=emulator.oauth_url,
            DAGSTER_HOME=str(dagster_home),
        )
        os.environ.pop("B24_WEBHOOK_URL", None)
        print(_("Bitrix24 emulator: {url} (OAuth at {oauth_url})").format(url=emulator.portal_url,
                                                                          oauth_url=emulator.oauth_url))
        env_file = write_env_file(root)
        with open_instance(dagster_home) as instance, progress.reporting(terminal.terminal_reporter()):
            summary = run_sync(instance)
        # the sandbox's databases and portal live only while it runs: its UI is where the run is read later
        summary.details = (f"http://127.0.0.1:{args.ui_port}/runs/{summary.run_id}" if args.ui else
                           f"glyms-b24 sandbox --ui --dir {args.dir}, then Runs -> {summary.run_id}")
        emit([translated(line) for line in summary.lines()])
        print(_("  sandbox environment (for glyms-b24 history / audit while the sandbox is up): "
                "set -a; . {file}; set +a").format(file=env_file))
        if args.ui:
            serve_ui(dagster_home, args.ui_port)
        else:
            print(_("See it in the UI: glyms-b24 sandbox --ui --dir {dir}   (run history in {home})")
                  .format(dir=args.dir, home=dagster_home))
        # the seed plants invalid rows on purpose, so its checks warn: the demo succeeds when the run
        # completed and every write landed; `glyms-b24 sync` on real data exits 1 for those warnings
        return 0 if summary.success and not summary.failed_rows else summary.exit_code or 1
    finally:
        emulator.stop()
        if server is not None:
            server.stop()


def add_commands(commands: argparse._SubParsersAction) -> None:
    sandbox = commands.add_parser("sandbox", help=_("run every sync end to end on the built-in sandbox"))
    sandbox.add_argument("--services", type=int, default=300, help=_("seeded Glyms services (default 300)"))
    sandbox.add_argument("--customers", type=int, default=100, help=_("seeded Glyms customers (default 100)"))
    sandbox.add_argument("--dir", default=".sandbox", help=_("folder for the sandbox's database and state"))
    sandbox.add_argument("--ui", action="store_true", help=_("afterwards, keep the sandbox up and open the Dagster UI"))
    sandbox.add_argument("--ui-port", type=int, default=3000, help=_("port of the Dagster UI (default 3000)"))
    sandbox.add_argument("--hostile", action="store_true",
                         help=_("also seed the hostile corpus (blank names, emoji, odd phones and e-mails, ...)"))
    sandbox.set_defaults(handler=sandbox_command)
