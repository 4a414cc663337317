"""Lines composed below the command line (the planners' reasons, the run summaries, the errors an
operator can act on: English, as they are also Dagster metadata and logs) in the run's language.

Each template below is a msgid of the catalog. A text matching one is translated with the values
it carries: ``{name}`` matches any text, the names in :data:`WORDS` one word; the values of the
names in :data:`TRANSLATED` are themselves translated, and ``{reasons}`` is a list ``key: reason;
...``. A text matching none is translated as a whole message when the catalog has it, else shown as
it is (a value from Glyms or Bitrix24).
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
SHAPES = {**{name: r"\S+?" for name in WORDS}, "date": r"\d{4}-\d\d-\d\d(?: \d\d:\d\d)?"}
#: placeholders whose value is itself a message to translate
TRANSLATED = {"verb", "status", "reason", "problem", "what", "where", "rows_text", "written", "purpose", "cause", "summary",
              "kind", "first"}

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
    N_("{detail}; unreachable for {seconds} s (bitrix24.unreachable_timeout_seconds)"),
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
    N_("dagster.yaml does not limit one writer per portal: copy the project's deploy/dagster.yaml into DAGSTER_HOME "
       "(tag_concurrency_limits with applyLimitPerUniqueValue); until then the portal lock alone keeps writers apart"),
    # explain (defs/*/explain.py)
    N_("{key} is not a customer id (id_cliente is a number)"),
    N_("codigo {code} is the code of services {ids}: explain one of them by its id (glyms-b24 explain service {first})"),
    # errors an operator can act on (settings/, runs/, glyms/, bitrix24/)
    N_("environment variable {name} is not set ({purpose})"),
    N_("DAGSTER_HOME is not set: point it at the folder holding dagster.yaml so the run is kept in the history"),
    N_("DAGSTER_HOME={path} has no dagster.yaml: copy the project's dagster.yaml into it; without it Dagster would "
       "keep the history in a local SQLite file"),
    N_("cannot connect to Dagster's database {where_url}: {cause}"),
    N_("{file}: configuration file not found (set {name} or pass --config)"),
    N_("{file}: {key}: unknown key (check its spelling; see glyms_b24.example.yaml)"),
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


def translated(text: Optional[str]) -> str:
    """``text`` in the run's language: by a template, else as a whole message, else as it is."""
    if not text:
        return ""
    for pattern, template in _patterns():
        match = pattern.fullmatch(text)
        if match:
            values = {name: (_reasons(value) if name == "reasons" else translated(value) if name in TRANSLATED
                             else value) for name, value in match.groupdict().items()}
            return _(template).format(**values)
    return _(text)


#: single words and phrases the templates' values carry
VALUES = (N_("services"), N_("companies"), N_("OK"), N_("DONE"), N_("DONE WITH PROBLEMS"), N_("FAILED"), N_("1 row"),
          N_("active services"), N_("customers"), N_("the catalog (iblock)"), N_("the price type"), N_("the section"),
          N_("the COMPANY_TYPE"), N_("the INDUSTRY"), N_("the field"), N_("iblock"), N_("price type"), N_("section"),
          N_("company type"), N_("industry"), N_("user field"), N_("work-order type without mapping"),
          N_("Glyms value without mapping"), N_("would be deleted"), N_("deleted"),
          # the purposes bitrix24/factory.py names a missing variable with
          N_("Bitrix24 portal, e.g. https://yourportal.bitrix24.es"), N_("client id of the Bitrix24 local application"),
          N_("client secret of the local application"),
          N_("the OAuth tokens are kept in the Glyms database, schema glyms_b24"))
