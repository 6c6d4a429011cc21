"""The browser verifier (services/disclosure/static/verify.js) in a real headless Chromium,
on the whole case suite of tests/browser/proof_cases.py: honest and forged proofs of every
form, each judged exactly as ``ssj draw verify`` (services/draw/protocol/verify.py) judges
it — the same problems, in the same order; the same refusal of an unreadable file.

verify.js is served by the disclosure service, as the portal's pages load it, and run on
the portal's /verify page (a secure context: WebCrypto is there). A few forgeries also go
through the page itself, as a reader who picked the file would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.draw.protocol import spelling
from tests.browser.chromium import chromium, verify_file
from tests.browser.proof_cases import cases
from tests.support import Infra, ServiceProcess

pytestmark = pytest.mark.own_infra
# The forgeries: a changed pool line, entropy, selection, and a swapped inspector.
REQUIRED = ("pool-line-edited", "entropy-changed", "selection-swapped", "inspector-swapped")

# Runs every case in the page: what parseProofText and verifyProof make of it.
RUN_ALL = """
async (cases) => {
  const { parseProofText, verifyProof } = await import("/static/verify.js");
  const out = [];
  for (const c of cases) {
    let proof;
    try {
      const bytes = "proof_base64" in c
        ? Uint8Array.from(atob(c.proof_base64), (ch) => ch.charCodeAt(0)) : null;
      proof = parseProofText(bytes ?? c.proof_text);
    } catch (error) {
      out.push({ parse_error: error.message });
      continue;
    }
    try {
      const { problems, checks } = await verifyProof(proof);
      const details = checks.flatMap((k) => k.details).sort();
      const partition = JSON.stringify(details) === JSON.stringify([...problems].sort())
        && checks.every((k) => k.ok === (k.details.length === 0) && k.id && k.label);
      out.push({ problems, partition });
    } catch (error) {
      out.push({ error: error.message });
    }
  }
  return out;
}
"""


@pytest.fixture(scope="module")
def portal(infra: Infra) -> Iterator[str]:
    proc = ServiceProcess(infra, "disclosure").start()
    yield proc.url
    proc.stop()


@pytest.fixture(scope="module")
def suite() -> list[dict[str, Any]]:
    return list(cases())


def _expected(case: dict[str, Any]) -> dict[str, Any]:
    if "parse_error" in case:
        return {"parse_error": case["parse_error"]}
    if "error" in case:
        return {"error": f"the verifier cannot read this proof: {case['error']}"}
    return {"problems": case["problems"], "partition": True}


def test_every_case_gets_the_python_verifiers_verdict_in_chromium(
    portal: str, suite: list[dict[str, Any]]
) -> None:
    names = {c["name"] for c in suite}
    # The four forgeries are in the suite, and honest proofs verify.
    assert {f"v3-public/required/{name}" for name in REQUIRED} <= names
    honest = [c for c in suite if "/honest" in c["name"]]
    assert honest and all(c.get("problems") == [] for c in honest)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{portal}/verify")
        found = page.evaluate(RUN_ALL, suite)
    differ = {
        case["name"]: (want, got)
        for case, got in zip(suite, found, strict=True)
        if got != (want := _expected(case))
    }
    assert differ == {}, json.dumps(differ, ensure_ascii=False, indent=1)[:6000]


def test_the_verify_page_names_a_forgery_as_the_cli_does(
    portal: str, suite: list[dict[str, Any]], tmp_path: Path
) -> None:
    by_name = {c["name"]: c for c in suite}
    forged = [by_name[f"v3-public/required/{name}"] for name in REQUIRED]
    honest = next(c for c in suite if c["name"] == "v3-public/honest")
    assert all(c["problems"] for c in forged)
    with chromium() as browser:
        page = browser.new_page()
        verdict, problems = verify_file(page, portal, honest["proof_text"], tmp_path / "h.json")
        assert (verdict, problems) == ("valid", [])
        for n, case in enumerate(forged):
            path = tmp_path / f"{n}.json"
            verdict, problems = verify_file(page, portal, case["proof_text"], path)
            assert (verdict, problems) == ("invalid", case["problems"]), case["name"]
        # The honest proof re-indented: one spelling only, as the CLI refuses it.
        indented = by_name["spelling/text/indented"]
        path = tmp_path / "indented.json"
        verdict, problems = verify_file(page, portal, indented["proof_text"], path)
        assert (verdict, problems) == ("unreadable", [])
        assert indented["parse_error"] in (page.text_content("#verdict") or "")


# A file one byte over the cap, as the page gets it: refused before it is decoded.
OVER_THE_CAP = """
async () => {
  const { MAX_PROOF_BYTES, parseProofText } = await import("/static/verify.js");
  try {
    parseProofText(new Uint8Array(MAX_PROOF_BYTES + 1));
    return { cap: MAX_PROOF_BYTES, read: true };
  } catch (error) {
    return { cap: MAX_PROOF_BYTES, refused: error.message };
  }
}
"""


def test_a_file_over_the_cap_is_refused_as_the_cli_refuses_it(portal: str) -> None:
    with pytest.raises(ValueError) as refused:
        spelling.load(bytes(spelling.MAX_PROOF_BYTES + 1))  # calloc'd: no 500 MB written
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{portal}/verify")
        found = page.evaluate(OVER_THE_CAP)
    assert found == {"cap": spelling.MAX_PROOF_BYTES, "refused": str(refused.value)}
