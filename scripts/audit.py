"""Audit the installed dependency set (.venv) against known vulnerabilities with pip-audit.

    .venv/bin/python scripts/audit.py                  # make audit: a connected machine; fails when it cannot audit
    .venv/bin/python scripts/audit.py --if-reachable   # CI: one "skipped" line when no advisory service answers

pip-audit asks an advisory service about every package: PyPI's JSON API (its `vulnerabilities`
field) or OSV (api.osv.dev). Both are network services; a package mirror is not enough (through
this project's mirror pypi.org's JSON API answers 404 and api.osv.dev does not resolve), so the
audit cannot run offline. Offline, pip-audit itself reports every package as "not found on PyPI"
and exits 0, a false all-clear: hence the probe first, and the count of packages it could not audit.

pip-audit runs from its own venv (.cache/audit-venv, pinned below), not the project's: the tool and
its dependencies are not part of the audited set, and the pinned set stays what the app needs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIP_AUDIT = "pip-audit==2.10.1"
TOOL_VENV = ROOT / ".cache" / "audit-venv"
PROBE_TIMEOUT = 5  # seconds per service; hand-set: an answering service replies in well under a second


def probe_pypi() -> str | None:
    """None when PyPI's JSON API answers with vulnerability data; else why not. Asked as pip-audit
    asks, for one version (a mirror may serve the project page and 404 the version), and for pip
    20.0, which has known advisories: an empty answer is no advisory service."""
    try:
        with urllib.request.urlopen("https://pypi.org/pypi/pip/20.0/json", timeout=PROBE_TIMEOUT) as r:
            return None if json.load(r).get("vulnerabilities") else "no vulnerability data in its answer"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except Exception as exc:  # any failure to get an answer: not reachable, and the line says why
        return reason(exc)


def probe_osv() -> str | None:
    """None when OSV answers a query; else why not."""
    query = json.dumps({"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "20.0"}).encode()  # (as above)
    request = urllib.request.Request("https://api.osv.dev/v1/query", data=query, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as r:
            return None if json.load(r).get("vulns") else "no vulnerability data in its answer"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except Exception as exc:  # any failure to get an answer: not reachable, and the line says why
        return reason(exc)


def reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    text = str(getattr(inner, "strerror", None) or inner or exc)
    return f"{type(exc).__name__}: {text}"[:120]


def tool() -> Path:
    """pip-audit in its own venv, installed from the package index the first time."""
    exe = TOOL_VENV / "bin" / "pip-audit"
    version = PIP_AUDIT.split("==")[1]
    if exe.exists():
        shown = subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout.split()
        if shown[-1:] == [version]:
            return exe
    subprocess.run([sys.executable, "-m", "venv", str(TOOL_VENV)], check=True)
    subprocess.run([str(TOOL_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", PIP_AUDIT], check=True)
    return exe


def summarize(report: dict, service: str) -> tuple[list[str], int, int]:
    """The lines to print for pip-audit's JSON report, the number of known vulnerabilities and the
    number of packages audited."""
    lines, vulns, skipped = [], 0, []
    deps = report.get("dependencies", [])
    for dep in deps:
        if dep.get("skip_reason"):
            skipped.append(dep["name"])
        for v in dep.get("vulns", []):
            vulns += 1
            fix = ", ".join(v.get("fix_versions") or []) or "no fixed version yet"
            aliases = f" ({', '.join(v['aliases'])})" if v.get("aliases") else ""
            lines.append(f"{dep['name']} {dep.get('version', '?')}: {v['id']}{aliases}; fixed in {fix}")
    lines.append(f"audited {len(deps) - len(skipped)} of {len(deps)} installed packages against {service}: "
                 f"{vulns} known vulnerabilit{'y' if vulns == 1 else 'ies'}"
                 + (f"; not found there, so not audited: {', '.join(skipped)}" if skipped else ""))
    return lines, vulns, len(deps) - len(skipped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--if-reachable", action="store_true",
                        help="when no advisory service answers, print why and exit 0 (CI without internet)")
    args = parser.parse_args(argv)
    pypi = probe_pypi()
    osv = probe_osv() if pypi else None
    if pypi and osv:
        print(f"dependency audit {'skipped' if args.if_reachable else 'impossible'}: no vulnerability service is "
              f"reachable (pypi.org JSON API: {pypi}; api.osv.dev: {osv}); run make audit on a connected machine")
        return 0 if args.if_reachable else 1
    service = "pypi" if not pypi else "osv"
    site = sysconfig.get_paths()["purelib"]  # this interpreter's packages: run it with .venv/bin/python
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        run = subprocess.run([str(tool()), "--vulnerability-service", service, "--format", "json", "--output", str(out),
                              "--progress-spinner", "off", "--path", site])
        if not out.exists():
            print(f"dependency audit failed: pip-audit exited {run.returncode} without a report")
            return 1
        report = json.loads(out.read_text())
    lines, vulns, audited = summarize(report, service)
    if not audited:  # the service answered the probe but knew none of them: no audit happened
        print(f"dependency audit {'skipped' if args.if_reachable else 'failed'}: {service} could not audit "
              f"any of the {len(report.get('dependencies', []))} installed packages")
        return 0 if args.if_reachable else 1
    print("\n".join(lines))
    return 1 if vulns else 0


if __name__ == "__main__":
    sys.exit(main())
