// The verifier's page part: fetch (or read) a proof, run verify.js on it, show each check.
// verify.js is an implementation of the draw protocol independent of the Python one
// (services/draw/protocol); both must reach the same verdict and name the same problems.
import { MAX_PROOF_BYTES, parseProofText, proofTooLarge, verifyProof } from "./verify.js";

const section = document.getElementById("verify");
const output = document.getElementById("verification");

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

function say(text, verdict) {
  output.replaceChildren(element("p", { id: "verdict", "data-verdict": verdict }, text));
}

// As `ssj draw verify --announcement-hash H`: the proof must be of the announcement this
// page disclosed before the entropy was drawn.
function announcementProblem(proof) {
  const seen = section.dataset.announcementHash;
  if (!seen) return null;
  const announced = proof && typeof proof === "object" ? proof.announcement_hash : undefined;
  return announced === seen ? null : `announcement_hash: you saw ${seen} published, this proof's is another`;
}

function show(result, extra) {
  const problems = extra ? [extra, ...result.problems] : result.problems;
  const valid = problems.length === 0;
  say(valid ? "验证通过：每一步的重新计算都与证明一致。" : `验证未通过：${problems.length} 处不一致。`,
      valid ? "valid" : "invalid");
  const checks = element("ol", { id: "checks" });
  for (const check of result.checks) {
    const ok = check.ok && !(extra && check.id === "announcement_hash");
    const item = element("li", { "data-check": check.id, "data-ok": String(ok) }, check.label);
    const details = extra && check.id === "announcement_hash" ? [extra, ...check.details] : check.details;
    if (details.length) {
      const list = element("ul");
      for (const detail of details) list.append(element("li", {}, detail));
      item.append(list);
    }
    checks.append(item);
  }
  output.append(checks);
  if (!valid) {
    output.append(element("h3", {}, "全部不一致之处（与命令行 ssj draw verify 的 MISMATCH 相同）"));
    const list = element("ol", { id: "problems" });
    for (const problem of problems) list.append(element("li", {}, problem));
    output.append(list);
  }
}

async function verifyText(text) {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    say("此浏览器不能在本页计算 SHA-256（WebCrypto 仅在 HTTPS 页面可用）；请用命令行 ssj draw verify。", "unavailable");
    return;
  }
  let proof;
  try {
    proof = parseProofText(text);
  } catch (error) {
    say(`无法读取证明文件：${error.message}`, "unreadable");
    return;
  }
  say("正在验证……", "running");
  const result = await verifyProof(proof);
  show(result, announcementProblem(proof));
}

const button = document.getElementById("verify-button");
if (button) {
  button.addEventListener("click", async () => {
    say("正在下载证明……", "running");
    let text;
    try {
      const answer = await fetch(section.dataset.proofUrl, { headers: { Accept: "application/json" } });
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
      // A proof over the cap is not downloaded whole (parseProofText refuses it too).
      if (Number(answer.headers.get("Content-Length")) > MAX_PROOF_BYTES) {
        say(`无法读取证明文件：${proofTooLarge()}`, "unreadable");
        return;
      }
      text = await answer.text();
    } catch (error) {
      say(`无法下载证明：${error.message}`, "unreadable");
      return;
    }
    await verifyText(text);
  });
}

const file = document.getElementById("proof-file");
if (file) {
  file.addEventListener("change", async () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    // A file over the cap is refused before it is read (as `ssj draw verify` does).
    if (chosen.size > MAX_PROOF_BYTES) say(`无法读取证明文件：${proofTooLarge()}`, "unreadable");
    else await verifyText(await chosen.text());
  });
}
