"""``glyms-b24 sandbox``: the services sync end to end on built-in parts.

PostgreSQL (the server of $GLYMS_B24_SANDBOX_PG_DSN, else an embedded one started here),
seeded Glyms data, the Bitrix24 emulator with OAuth, and a real Dagster run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg2
import requests

from glyms_b24_pipeline.glyms.install import install_sql
from glyms_b24_pipeline.instance import open_instance, prepare_sandbox_instance
from glyms_b24_pipeline.sandbox.glyms_seed import seed_glyms
from glyms_b24_pipeline.sandbox.postgres import EmbeddedPostgres, apply_glyms_schema, create_database

SANDBOX_DB = "glyms_sandbox"
SANDBOX_CLIENT_ID = "local.glyms-b24.sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-secret-not-for-production"
SANDBOX_PG_ENV = "GLYMS_B24_SANDBOX_PG_DSN"

def _database_exists(admin_dsn: str, name: str) -> bool:
    with psycopg2.connect(admin_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cur.fetchone() is not None


def prepare_glyms(admin_dsn: str, services: int, customers: int) -> str:
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
        cur.execute("SELECT count(*) FROM lims.prestacion")
        empty = (cur.fetchone() or (0,))[0] == 0
    if empty:
        summary = seed_glyms(dsn, services=services, customers=customers)
        print(f"Glyms sandbox: {summary.services} services ({summary.active_services} active), "
              f"{summary.price_rows} price versions, {summary.customers} customers")
    return dsn


def authorise(portal_url: str, oauth_url: str, dsn: str) -> None:
    """Walk the OAuth flow as an operator would: consent page -> code -> stored tokens."""
    from glyms_b24_pipeline.bitrix24.auth import OAuthApp, OAuthAuth, TokenStore

    app = OAuthApp(portal_url=portal_url, client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET,
                   oauth_url=oauth_url)
    consent = requests.get(app.authorize_url(state="sandbox"), allow_redirects=False, timeout=10)
    code = parse_qs(urlparse(consent.headers["Location"]).query)["code"][0]
    OAuthAuth(app, TokenStore(dsn, portal_url, SANDBOX_CLIENT_ID)).exchange_code(code)


def sandbox_command(args: argparse.Namespace) -> int:
    from bitrix24_emulator import Bitrix24Emulator, EmulatorSettings
    from glyms_b24_pipeline.sync_command import run_sync

    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    server = None
    admin_dsn = os.environ.get(SANDBOX_PG_ENV)
    if not admin_dsn:
        server = EmbeddedPostgres(root / "postgres")
        admin_dsn = server.admin_dsn
    emulator = Bitrix24Emulator(EmulatorSettings(), state_file=str(root / "bitrix24_portal.json"))
    try:
        dsn = prepare_glyms(admin_dsn, args.services, args.customers)
        emulator.start(host="127.0.0.1", port=0)
        emulator.register_app(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, redirect_uri="http://localhost/")
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
        print(f"Bitrix24 emulator: {emulator.portal_url} (OAuth at {emulator.oauth_url})")
        with open_instance(dagster_home) as instance:
            summary = run_sync(instance)
        print("\n".join(summary.lines()))
        if args.ui:
            print(f"Dagster UI on http://127.0.0.1:{args.ui_port} (Ctrl-C to stop the sandbox)", flush=True)
            # the module, not workspace.yaml: works from a checkout and from an installed wheel alike
            ui = subprocess.Popen([sys.executable, "-m", "dagster", "dev", "-m", "glyms_b24_pipeline.definitions",
                                   "-h", "127.0.0.1", "-p", str(args.ui_port)])
            try:
                ui.wait()
            except KeyboardInterrupt:
                # dagster dev shuts its code servers down only on SIGINT; never leave them orphaned
                ui.send_signal(signal.SIGINT)
                ui.wait(timeout=60)
        else:
            print(f"See it in the UI: glyms-b24 sandbox --ui   (run history in {dagster_home})")
        # the seed plants invalid rows on purpose, so its checks warn: the demo succeeds when the run
        # completed and every write landed; `glyms-b24 sync` on real data exits 1 for those warnings
        return 0 if summary.success and not summary.failed_rows else summary.exit_code or 1
    finally:
        emulator.stop()
        if server is not None:
            server.stop()
