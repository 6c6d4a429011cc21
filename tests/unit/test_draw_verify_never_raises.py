"""``ssj draw verify`` gives a verdict on any proof, never a traceback: a forged proof that
breaks the checks themselves (null replacements, a salt that is a number, a short roster
row, …) is one MISMATCH naming the exception — and the browser verifier says the same
(tests/browser/test_verifier_in_chromium.py)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

from services.draw.protocol.canonical import canonical_json
from services.draw.protocol.verify import UNREADABLE, verify
from tests.browser.proof_cases import both, cases
from tests.unit.test_draw_v3_proofs import proof

ROOT = Path(__file__).resolve().parents[2]


def test_no_case_of_the_suite_makes_the_verifier_raise() -> None:
    suite = list(cases())
    assert not [c["name"] for c in suite if "error" in c]
    broken = [c for c in suite if any(p.startswith(UNREADABLE) for p in c.get("problems", []))]
    assert len(broken) >= 10  # the forgeries that used to raise are reported
    assert all(len(c["problems"]) == 1 for c in broken)


def test_the_command_line_reports_a_broken_proof_as_a_mismatch(tmp_path: Path) -> None:
    forged = copy.deepcopy(both(proof())[0])  # the public proof, executed
    assert verify(forged) == []
    forged["replacements"] = None
    assert verify(forged)[0].startswith(f"{UNREADABLE}: ")
    path = tmp_path / "forged.json"
    path.write_bytes(canonical_json(forged))  # as the service serves it
    done = subprocess.run(
        [sys.executable, "-S", "-m", "services.draw.protocol.verify", "verify", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"MISMATCH {UNREADABLE}: " in done.stdout
