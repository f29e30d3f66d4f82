"""Plain-text renderings of an import: the credentials to set and the findings, for the report files.

The CLI shows the same content as rich tables; these texts are what stays in the output directory for
the admin (and a change-management ticket) to read later. Neither ever contains a secret: the import
never reads one.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from router.config.transport import EWS_SWITCH_OFF, README_SECTION
from router.legacy.importer import ImportResult
from router.legacy.mapcontext import CredentialNeed
from router.legacy.model import Finding, Severity

CREDENTIALS_FILE = "CREDENTIALS-TO-SET.txt"
REPORT_FILE = "IMPORT-REPORT.txt"

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def credentials_text(credentials: tuple[CredentialNeed, ...]) -> str:
    """Return the credentials file: one `email-router credentials set` command per credential."""
    lines = ["# Credentials the imported profiles name. Legacy passwords are encrypted with the legacy",
             "# router's key and cannot be imported: store each one in the vault with the command below",
             "# (the secret is prompted, never echoed; add --stdin to read it from standard input).", ""]
    if not credentials:
        lines.append("# None: the imported configuration names no credential.")
    for need in credentials:
        users = ", ".join(need.used_by)
        lines += [f"# {need.purpose}; used by {users}", need.command(), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def sorted_findings(findings: tuple[Finding, ...]) -> list[Finding]:
    """Return findings most severe first, then in file order."""
    order = {id(f): i for i, f in enumerate(findings)}
    return sorted(findings, key=lambda f: (_SEVERITY_ORDER[f.severity], order[id(f)]))


def finding_line(finding: Finding) -> str:
    """Return one finding on one line (or two when it carries a value)."""
    text = f"{finding.severity.value.upper():<8}{finding.where()}\n        {finding.message}"
    return text + (f"\n        value: {finding.value}" if finding.value else "")


def graph_profiles(result: ImportResult) -> list[str]:
    """Names of the imported profiles that reach Exchange Online, so will need Microsoft Graph."""
    return sorted(
        name for pf in result.files.values() for name, profile in pf.profiles.items() if profile.is_online
    )


def graph_lines(result: ImportResult) -> list[str]:
    """The report's section on profiles that must move to Graph before EWS is switched off online."""
    names = graph_profiles(result)
    if not names:
        return ["Microsoft Graph: no imported profile reaches Exchange Online (on-premises keeps EWS)."]
    try:
        left = (EWS_SWITCH_OFF - date.fromisoformat(result.imported_at[:10])).days
        days = f", {left} days after this import"
    except ValueError:
        days = ""
    return [
        f"Profiles that will need Microsoft Graph ({len(names)}): Exchange Online switches EWS off on "
        f"{EWS_SWITCH_OFF.isoformat()}{days}; set transport = \"graph\" on each (see {README_SECTION})",
        *(f"  {name}" for name in names),
    ]


def report_text(result: ImportResult) -> str:
    """Return the import report: sources, what was written, credentials to set, every finding."""
    stats = result.stats
    counts = Counter(f.severity for f in result.findings)
    lines = [
        f"email-router import-legacy, {result.imported_at}",
        "Sources: " + (", ".join(result.sources) or "-"),
        f"Written: {', '.join(sorted(result.files))}",
        f"Providers read: {stats.providers}; profiles: {stats.profiles}; deployments: {stats.deployments}; "
        f"users: {stats.users}; queues: {stats.queues}; forward mailboxes: {stats.forward_mailboxes}",
        f"Mailboxes continuing from their legacy threshold date: {stats.carried_thresholds} of "
        f"{stats.mailboxes} (the others start at the import time)",
        "",
        f"Credentials to set ({len(result.credentials)}): see {CREDENTIALS_FILE}",
        *(f"  {need.command()}" for need in result.credentials),
        "",
        *graph_lines(result),
        "",
        f"Findings: {counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
        f"{counts[Severity.INFO]} note(s)",
    ]
    lines += [finding_line(f) for f in sorted_findings(result.findings)]
    return "\n".join(lines) + "\n"
