// summarizeProfile's names for V8 CPU profile nodes: code made at run time (`new Function`,
// as the block compiler makes its blocks) has neither a name nor a script and must not be
// reported as V8's root node, which it once was (compiled blocks showed as "(root)").
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { summarizeProfile } from "./cpuprofile.js";

const work = mkdtempSync(join(tmpdir(), "paravm-cpuprofile-"));
after(() => rmSync(work, { recursive: true, force: true }));

const frame = (functionName: string, url: string) => ({ functionName, url, scriptId: "0", lineNumber: 0, columnNumber: 0 });

test("a nameless function without a script is generated code; each sample lasts until the next", () => {
  const file = join(work, "p.cpuprofile");
  writeFileSync(
    file,
    JSON.stringify({
      nodes: [
        { id: 1, callFrame: frame("(root)", ""), children: [2, 3] },
        { id: 2, callFrame: frame("", ""), hitCount: 3 },
        { id: 3, callFrame: frame("", "file:///nowhere/x.js"), hitCount: 1 },
      ],
      startTime: 0,
      endTime: 5000,
      samples: [2, 2, 2, 3],
      timeDeltas: [1000, 1000, 1000, 1000],
    }),
  );
  const s = summarizeProfile(file, work, 5);
  const byName = new Map(s.functions.map((f) => [f.name, f]));
  assert.ok(!byName.has("(root)"));
  assert.equal(byName.get("(generated code)")!.percent, 75);
  assert.equal(byName.get("(anonymous)")!.percent, 25);
});
