// Developer's harness of the browser verifier: runs every case of
// `python -m tests.browser.proof_cases CASES.json` through verify.js in Node and says,
// case by case, whether its problems are exactly the reference's (`ssj draw verify`).
//
//   .venv/bin/python -m tests.browser.proof_cases /tmp/cases.json
//   node tests/browser/node_check.mjs /tmp/cases.json [--verbose] [NAME-SUBSTRING]
//
// Exit 0 when every case agrees, 1 when one differs. A case with "parse_error" (its text,
// or its bytes as "proof_base64" when they are not UTF-8) must be refused by
// parseProofText with that message; one with "error" (the reference itself stops on it)
// must make verifyProof throw naming the same Python exception; any other must give
// `problems` exactly, and its checks must hold every problem once. The project's real
// tests run verify.js in headless Chromium; this is the quick loop while changing it.

import { readFileSync } from "node:fs";
import { parseProofText, verifyProof } from "../../services/disclosure/static/verify.js";

const [path, ...rest] = process.argv.slice(2);
if (!path) {
  console.error("usage: node tests/browser/node_check.mjs CASES.json [--verbose] [NAME-SUBSTRING]");
  process.exit(2);
}
const verbose = rest.includes("--verbose");
const only = rest.find((a) => !a.startsWith("--"));
const cases = JSON.parse(readFileSync(path, "utf8")).filter((c) => !only || c.name.includes(only));

/** The first differing line of two problem lists, and both lists around it. */
function diff(expected, found) {
  const lines = [];
  const n = Math.max(expected.length, found.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const f = found[i];
    if (e === f) lines.push(`    = ${e}`);
    else {
      if (e !== undefined) lines.push(`    - ${e}`);
      if (f !== undefined) lines.push(`    + ${f}`);
    }
  }
  return lines.join("\n");
}

/** Why the checks do not partition the problems (null: they do). */
function checksProblem(problems, checks) {
  const details = checks.flatMap((c) => c.details);
  const sorted = (xs) => [...xs].sort();
  if (JSON.stringify(sorted(details)) !== JSON.stringify(sorted(problems))) {
    return "the checks' details are not the problems, each once";
  }
  const bad = checks.find((c) => c.ok !== (c.details.length === 0) || !c.id || !c.label);
  return bad ? `check ${bad.id} is not well formed` : null;
}

async function run(c) {
  let proof;
  try {
    const bytes = "proof_base64" in c ? new Uint8Array(Buffer.from(c.proof_base64, "base64")) : null;
    proof = parseProofText(bytes ?? c.proof_text);
  } catch (error) {
    if ("parse_error" in c) {
      return error.message === c.parse_error ? null : diff([c.parse_error], [error.message]);
    }
    return `parseProofText refused it: ${error.message}`;
  }
  if ("parse_error" in c)
    return `parseProofText read it; the reference refuses it: ${c.parse_error}`;
  let outcome;
  try {
    outcome = await verifyProof(proof);
  } catch (error) {
    if (!("error" in c)) return `verifyProof threw: ${error.stack}`;
    const expected = `the verifier cannot read this proof: ${c.error}`;
    return error.message === expected ? null : diff([expected], [error.message]);
  }
  if ("error" in c)
    return `the reference stops (${c.error}); verifyProof gave ${JSON.stringify(outcome.problems)}`;
  const { problems, checks } = outcome;
  if (JSON.stringify(problems) !== JSON.stringify(c.problems)) return diff(c.problems, problems);
  return checksProblem(problems, checks);
}

let failed = 0;
const started = performance.now();
for (const c of cases) {
  const t0 = performance.now();
  const problem = await run(c);
  const ms = (performance.now() - t0).toFixed(0);
  if (problem) {
    failed += 1;
    console.log(`DIFFERS ${c.name} (${ms} ms)\n${problem}`);
  } else if (verbose) {
    console.log(`same    ${c.name} (${ms} ms)`);
  }
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `${cases.length - failed} of ${cases.length} cases identical to the reference (${seconds} s)`,
);
process.exit(failed ? 1 : 0);
