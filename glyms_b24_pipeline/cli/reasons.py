"""Lines composed below the command line (the planners' reasons, the run summaries, the errors an
operator can act on: English, as they are also Dagster metadata and logs) in the run's language.

Each template below is a msgid of the catalog. A text matching one is translated with the values
it carries: ``{name}`` matches any text, the names in :data:`WORDS` one word; the values of the
names in :data:`TRANSLATED` are themselves translated, ``{reasons}`` is a list ``key: reason;
...``, ``{violations}`` and ``{problems}`` lists ``message; message``. A text matching none is translated as a
whole message when the catalog has it, ``name: message`` as its message, else shown as it is (a
value from Glyms, PostgreSQL or Bitrix24).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional, Pattern

from glyms_b24_pipeline.cli.i18n import _


def N_(message: str) -> str:
    """Marks a msgid for extraction; translated later, when it is matched."""
    return message


#: placeholders that stand for one word (a number, an id, a status)
WORDS = {"value", "count", "checked", "rows", "id", "length", "limit", "total", "missing", "attempts", "n", "seconds",
         "create", "update", "unchanged", "invalid", "duplicate", "deactivate", "reactivate", "prices",
         "fields", "deletions", "log_rows", "candidates", "succeeded", "failed", "requests", "planned"}
#: placeholders of a known shape
SHAPES = {**{name: r"\S+?" for name in WORDS}, "date": r"\d{4}-\d\d-\d\d(?: \d\d:\d\d)?",
          "config_file": r"\S+?\.ya?ml"}
#: placeholders whose value is itself a message to translate
TRANSLATED = {"verb", "status", "reason", "problem", "what", "where", "rows_text", "written", "purpose", "cause", "summary",
              "kind", "first", "detail", "remedy", "family", "guard", "holder", "who", "found_by"}

TEMPLATES = (
    # services (defs/services/plan.py)
    N_("id_prestacion is empty"),
    N_("descripcion (name) is blank"),
    N_("descripcion is {length} characters long; Bitrix24 keeps at most {limit}"),
    N_("precio {value} is not a number"),
    N_("precio {value} is negative"),
    N_("no price in Glyms"),
    N_("codigo is empty: no price can be looked up for it"),
    N_("id_tipo_ot {value} has no section mapping"),
    N_("xmlId {value} is on several Bitrix24 services ({ids})"),
    N_("no longer an active service in Glyms"),
    N_("codigo {code} is also the code of active service(s) {others}: they share its price"),
    N_("{count} prices share the newest fecha_version ({when}): the highest is in force"),
    # companies (defs/companies/mapping.py, plan.py)
    N_("id_cliente is empty"),
    N_("razon_social (TITLE) is blank"),
    N_("razon_social is {length} characters long; cut to {limit}"),
    N_("id_tipo_ot {value} has no COMPANY_TYPE mapping; left out"),
    N_("id_cliente_tipo {value} has no INDUSTRY mapping; left out"),
    N_("mail {text} holds several addresses; sent the first valid one, {address}"),
    N_("mail {text} is not a valid e-mail address; left out"),
    N_("telefono {text} has no digits; left out"),
    N_("telefono {text} is not a valid {region} number; sent as typed"),
    N_("ORIGIN_ID {value} is on several companies ({ids}); keep one and clear the others' ORIGIN_ID"),
    N_("customer deleted in Glyms; companies.on_delete is ignore"),
    N_("customer deleted in Glyms and no company has its ORIGIN_ID"),
    N_("customer deleted in Glyms"),
    N_("deletion already noted"),
    N_("no company has this ORIGIN_ID (companies.missing_on_update)"),
    N_("linked to company {id} typed by hand (same {matched_by})"),
    # mappings (sync/mappings.py, defs/*/mappings.py)
    N_("{what} {value} does not exist {where}; there are none"),
    N_("{what} {value} does not exist {where}"),
    N_("{column} {value} is in use in Glyms ({rows} {what}) and has no mapping"),
    N_("mappings right ({checked} values checked)"),
    N_("mapping problems: {count}; the first: {setting}: {problem} (glyms-b24 check-mappings)"),
    N_("nothing written: {reason}"),
    N_("in the portal"),
    N_("in the catalog (iblock) {id}"),
    # run summaries (cli/sync.py, sync/spec.py, defs/*/spec.py)
    N_("Run {run_id}: {status}"),
    N_("  waited {seconds} s for another sync that was writing to the portal"),
    N_("  {label} not synced: {rows_text}, e.g. {reasons} (all of them: glyms-b24 audit --status skipped, or "
       "glyms_b24.sync_audit)"),
    N_("{count} rows"),
    N_("  why one row is so: {command}"),
    N_("  check failed: {name}"),
    N_("Run {run_id} ({job}): {status}"),
    N_("  error: {reason}"),
    N_("  details: glyms-b24 sandbox --ui --dir {dir}, then Runs -> {run_id}"),
    N_("  details: {where_url}"),
    N_("  change-log rows in ERROR: {count} (glyms-b24 history --run {run_id}; fix the customer, or glyms-b24 requeue)"),
    N_("  services plan: {create} to create, {fields} field updates, {prices} prices to write, {deactivate} to "
       "deactivate, {reactivate} to reactivate, {unchanged} unchanged, {invalid} invalid, {duplicate} duplicate xmlIds, "
       "{n} excluded on purpose"),
    N_("  services plan: {create} to create, {fields} field updates, {prices} prices to write, {deactivate} to "
       "deactivate, {reactivate} to reactivate, {unchanged} unchanged, {invalid} invalid, {duplicate} duplicate xmlIds"),
    N_("id_tipo_ot {value} is excluded on purpose (services.excluded_tipo_ot)"),
    N_("  written {succeeded}, failed {failed}, skipped {n}, in error {count}"),
    N_("  written {succeeded}, failed {failed}, skipped {n}, in error {count}, excluded {total}"),
    N_("{detail}; unreachable for {seconds} s, the limit is {limit} s (bitrix24.unreachable_timeout_seconds)"),
    N_("  {label} plan: {log_rows} log rows, {create} to create, {update} to update, {deletions} deletions, "
       "{unchanged} unchanged, {invalid} invalid, {duplicate} duplicate ORIGIN_IDs, {missing} missing in Bitrix24, "
       "{candidates} link candidates"),
    N_("  {label} dry run: nothing written ({planned} writes planned)"),
    N_("  {label} push: {succeeded} {written} written, {failed} failed, {requests} API requests, {seconds} s"),
    N_("the run failed before any step ran"),
    # retention (defs/maintenance/retention.py)
    N_("audit: {count} rows before {date} {verb}"),
    N_("history: {count} runs before {date} {verb}"),
    # repair (defs/services/repair.py, defs/companies/repair.py)
    N_("the newest: the highest id"),
    N_("the lowest id"),
    N_("it has a price of type {id} and the lowest id"),
    N_("none has a price of type {id}: the lowest id"),
    N_("keep"),
    N_("merge into {id}"),
    # Bitrix24 (bitrix24/errors.py operator_message)
    N_("Bitrix24: {detail}; check B24_WEBHOOK_URL (user id, code and the webhook's scopes)"),
    N_("Bitrix24: {detail}; check B24_PORTAL_URL and the application's scopes, or run glyms-b24 auth"),
    N_("Bitrix24: {detail}; is the portal reachable from this server? check {name}"),
    N_("{detail}: re-authorise with `glyms-b24 auth`"),
    N_("Bitrix24 refused the credentials during the push ({count} changes not written): {first}; re-authorise with "
       "glyms-b24 auth or check B24_WEBHOOK_URL"),
    # what the client says of a request that got no answer (bitrix24/client.py, auth.py)
    N_("cannot connect ({kind})"),
    N_("connection failed ({kind})"),
    N_("no answer (connect timeout)"),
    N_("no answer (read timeout)"),
    N_("TLS verification failed"),
    N_("the webhook was rejected; check B24_WEBHOOK_URL"),
    N_("OAuth server did not answer in time"),
    N_("cannot reach the OAuth server: {kind}"),
    N_("OAuth server answered without a token"),
    N_("token request refused"),
    N_("no OAuth tokens stored for {portal} and client {client}"),
    N_("no OAuth tokens stored for {portal}"),
    N_("the portal URL (B24_PORTAL_URL) must look like https://yourportal.bitrix24.es, got {url}"),
    N_("the webhook URL (B24_WEBHOOK_URL) must look like https://yourportal.bitrix24.es/rest/1/abc123/"),
    # the stops before any write (sync/results.py, sync/lock.py, defs/*/plan.py)
    N_("Push stopped, nothing written: {guard}. {remedy}"),
    N_("Glyms returned no active services, so all {count} active catalog services would be deactivated"),
    N_("{count} of {total} active catalog services ({share}) would be deactivated, above the limit of {limit} "
       "(services.max_deactivation_share)"),
    N_("{count} of {total} companies ({share}) would be marked as deleted in Glyms, above the limit of {limit} "
       "(companies.max_deletion_share)"),
    N_("Check that GLYMS_PG_DSN points at the right Glyms database; to deactivate anyway, run with "
       "allow_mass_deactivation (glyms-b24 sync --allow-mass-deactivation)."),
    N_("Check that GLYMS_PG_DSN points at the right Glyms database; to go ahead anyway, run "
       "glyms-b24 reconcile companies --allow-mass-deletion."),
    N_("another sync is writing to {portal} ({holder}); waited {seconds} s (writer.lock_wait_seconds); nothing was "
       "written"),
    N_("another sync is writing to {portal} ({holder}); nothing was written"),
    N_("{who}, started {when}"),
    N_("database session {id}"),
    N_("a session that has just ended"),
    N_("run {id}"),
    N_("the process of this run died; reported failed by {found_by}"),
    N_("step failed"),
    N_("dagster.yaml does not limit one writer per portal: copy the project's deploy/dagster.yaml into DAGSTER_HOME "
       "(tag_concurrency_limits with applyLimitPerUniqueValue); until then the portal lock alone keeps writers apart"),
    # explain (defs/*/explain.py)
    N_("{key} is not a customer id (id_cliente is a number)"),
    N_("codigo {code} is the code of services {ids}: explain one of them by its id (glyms-b24 explain service {first})"),
    # the Glyms database (glyms/connection.py, glyms/contract.py)
    N_("cannot connect to the Glyms database {where}: {cause}"),
    N_("cannot log in to the Glyms database {where}: wrong user or password in GLYMS_PG_DSN"),
    N_("Glyms database {where}: {detail}"),
    N_("{problem} (database {where})"),
    N_("the server refuses connections: is PostgreSQL running on that port?"),
    N_("unknown host name {host}"),
    N_("no answer in time: check the host, the port and the firewall"),
    N_("the database {name} does not exist"),
    N_("the user {name} does not exist"),
    N_("no server at the local socket: give a host in GLYMS_PG_DSN"),
    N_("GLYMS_PG_DSN is not a valid connection string (postgresql://user@host:port/database)"),
    N_("GLYMS_PG_DSN is not a valid connection string (its {option})"),
    N_("{violations} (Glyms schema contract; GLYMS_PG_DSN -> {where})"),
    N_("{name}.{column} is {type}; the sync reads it as {family}"),
    N_("{name} has no column {column}: {remedy}"),
    N_("{name} has no column {column}"),
    N_("the database role cannot update {name} ({grant})"),
    N_("the database role cannot read {name} ({columns}; {grant})"),
    N_("{name} is missing: {remedy}"),
    # the same, without the object's name (glyms-b24 install-sql --check lists them under it)
    N_("{column} is {type}; the sync reads it as {family}"),
    N_("has no column {column}: {remedy}"),
    N_("has no column {column}"),
    N_("is missing: {remedy}"),
    N_("run glyms-b24 install-sql"),
    N_("is GLYMS_PG_DSN pointing at the Glyms database?"),
    N_("check the Glyms database"),
    N_("check the Glyms database schema"),
    # errors an operator can act on (settings/, runs/, bitrix24/)
    N_("environment variable {name} is not set ({purpose})"),
    N_("DAGSTER_HOME is not set: point it at the folder holding dagster.yaml so the run is kept in the history"),
    N_("DAGSTER_HOME={path} has no dagster.yaml: copy the project's dagster.yaml into it; without it Dagster would "
       "keep the history in a local SQLite file"),
    N_("cannot connect to Dagster's database {where_url}: {cause}"),
    N_("run {id} is not in the run history of this instance"),
    # the sandbox (cli/sandbox.py, sandbox/postgres.py)
    N_("port {port} is already in use on 127.0.0.1: choose another with --ui-port"),
    N_("dagster dev ended with exit code {code} (is port {port} free? use --ui-port)"),
    N_("the embedded PostgreSQL is not installed: pip install -e '.[sandbox]' (or point GLYMS_B24_SANDBOX_PG_DSN / "
       "GLYMS_B24_TEST_PG_DSN at a server)"),
    N_("--hostile needs the project's checkout (the corpus is in glyms_b24_pipeline_tests/sandbox/hostile.py, not in "
       "the installed package)"),
    N_("{file}: configuration file not found (set {name} or pass --config)"),
    N_("{file}: {key}: unknown key (check its spelling; see glyms_b24.example.yaml)"),
    # the configuration's problems (settings/model.py), each ``key: problem``
    N_("{config_file}: {problems}"),
    N_("required key is missing"),
    N_("must be an integer"),
    N_("must be a number"),
    N_("must be true or false"),
    N_("must be text"),
    N_("must be a list"),
    N_("must be a mapping (key: value lines)"),
    N_("must be at least {limit}"),
    N_("must be more than {limit}"),
    N_("must be at most {limit}"),
    N_("must be less than {limit}"),
    N_("must be one of {choices}"),
    N_("expected a cron expression with 5 fields such as '0 5 * * *'"),
    N_("expected a user-field code starting with UF_CRM_"),
    N_("expected a name of letters, digits, _ and - (at most 40, starting with a letter) such as portal_a"),
    N_("unknown time zone {value} (e.g. America/Argentina/Buenos_Aires)"),
    N_("{values} both mapped and excluded; keep each value in one of them"),
    N_("channel email needs {keys}"),
    N_("unknown key (check its spelling; see glyms_b24.example.yaml)"),
    # last: a problem and the value that has it
    N_("{problem}, got {value}"),
)


def _regex(template: str) -> Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(part) if n % 2 == 0 else rf"(?P<{part}>{SHAPES.get(part, r'.+?')})"
                      for n, part in enumerate(parts))
    return re.compile(pattern, re.DOTALL)


@lru_cache(maxsize=None)
def _patterns() -> tuple[tuple[Pattern[str], str], ...]:
    return tuple((_regex(template), template) for template in TEMPLATES)


def _reasons(text: str) -> str:
    """``key: reason; key: reason`` with each reason translated."""
    out = []
    for item in text.split("; "):
        key, sep, reason = item.partition(": ")
        out.append(f"{key}{sep}{translated(reason)}" if sep else translated(item))
    return "; ".join(out)


def _messages(text: str) -> str:
    """``message; message`` with each message translated: the shortest run of pieces that translates is one
    message (a message may hold "; " itself); a piece that starts none is shown as it is."""
    pieces, out, start = text.split("; "), [], 0
    while start < len(pieces):
        for end in range(start + 1, len(pieces) + 1):
            message = "; ".join(pieces[start:end])
            said = translated(message)
            if said != message:
                out.append(said)
                start = end
                break
        else:
            out.append(pieces[start])
            start += 1
    return "; ".join(out)


def _value(name: str, value: str) -> str:
    if name == "reasons":
        return _reasons(value)
    if name in ("violations", "problems"):
        return _messages(value)
    return translated(value) if name in TRANSLATED else value


def translated(text: Optional[str]) -> str:
    """``text`` in the run's language: by a template, else as a whole message, else ``name: message`` as its
    message (a Bitrix24 method's error), else as it is."""
    if not text:
        return ""
    for pattern, template in _patterns():
        match = pattern.fullmatch(text)
        if match:
            return _(template).format(**{name: _value(name, value) for name, value in match.groupdict().items()})
    whole = _(text)
    if whole != text:
        return whole
    name, sep, message = text.partition(": ")
    if sep and name and " " not in name:
        said = translated(message)
        if said != message:
            return f"{name}{sep}{said}"
    return text


#: single words and phrases the templates' values carry
VALUES = (N_("services"), N_("companies"), N_("OK"), N_("DONE"), N_("DONE WITH PROBLEMS"), N_("FAILED"), N_("1 row"),
          N_("active services"), N_("customers"), N_("the catalog (iblock)"), N_("the price type"), N_("the section"),
          N_("the COMPANY_TYPE"), N_("the INDUSTRY"), N_("the field"), N_("iblock"), N_("price type"), N_("section"),
          N_("company type"), N_("industry"), N_("user field"), N_("work-order type without mapping"),
          N_("Glyms value without mapping"), N_("would be deleted"), N_("deleted"),
          # the purposes bitrix24/factory.py names a missing variable with
          N_("Bitrix24 portal, e.g. https://yourportal.bitrix24.es"), N_("client id of the Bitrix24 local application"),
          N_("client secret of the local application"),
          N_("the OAuth tokens are kept in the Glyms database, schema glyms_b24"),
          # the column types the Glyms schema contract accepts (glyms/contract.py)
          N_("smallint, integer or bigint"), N_("text, varchar or char"), N_("text, varchar, char or an integer type"),
          N_("numeric, an integer type, real or double precision"), N_("date, timestamp or timestamptz"),
          N_("timestamp or timestamptz"))
