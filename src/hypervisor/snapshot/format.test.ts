import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { jsonOf, need, readOneSection, readSnapshot, SECTION_KIND, SNAPSHOT_FORMAT, SnapshotError, SnapshotWriter } from "./format.js";
import { pageMap, RAM_PAGE, readRam, writeRam } from "./ram.js";

const dir = mkdtempSync(join(tmpdir(), "paravm-snapfmt-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(dir, `s${n++}.snap`);

/** A 1 MiB "guest RAM" with a few scattered non-zero pages, one of them only its last byte. */
function sampleRam(): { ram: Uint8Array; touched: number[] } {
  const ram = new Uint8Array(1 << 20);
  const touched = [0, 3, 77, 255];
  for (const p of touched.slice(0, 3)) ram.set(randomBytes(RAM_PAGE), p * RAM_PAGE);
  ram[256 * RAM_PAGE - 1] = 0xa5;
  return { ram, touched };
}

function writeSample(file: string): { ram: Uint8Array; state: object } {
  const { ram } = sampleRam();
  const state = { hart: { pc: "0x80200000", x: [1, 2, 3] }, settings: { weight: 256 } };
  const w = new SnapshotWriter(file);
  w.json("vm", state);
  writeRam(w, "ram", ram);
  w.section("blob", SECTION_KIND.BYTES, new Uint8Array([1, 2, 3]));
  w.close();
  return { ram, state };
}

const refused = (file: string, pattern: RegExp): void =>
  assert.throws(
    () => readSnapshot(file),
    (e: unknown) => e instanceof SnapshotError && pattern.test(e.message) && e.message.includes(file),
  );

describe("snapshot file format", () => {
  it("round-trips JSON, bytes and RAM sections", () => {
    const file = fresh();
    const { ram, state } = writeSample(file);
    const s = readSnapshot(file);
    assert.deepEqual([...s.keys()], ["vm", "ram", "blob"]);
    assert.deepEqual(jsonOf(file, s, "vm"), state);
    assert.deepEqual([...need(file, s, "blob", SECTION_KIND.BYTES).payload], [1, 2, 3]);
    const back = new Uint8Array(ram.length);
    const { present } = readRam(file, need(file, s, "ram", SECTION_KIND.RAM), back);
    assert.equal(present, 4);
    assert.ok(Buffer.from(back).equals(Buffer.from(ram)));
  });

  it("leaves zero pages out: the file holds only the touched pages", () => {
    const file = fresh();
    writeSample(file);
    const size = statSync(file).size;
    assert.ok(size > 4 * RAM_PAGE && size < 5 * RAM_PAGE, `${size} bytes for 4 touched pages of 256`);
    assert.equal(pageMap(sampleRam().ram).present, 4);
  });

  it("refuses a file from another format version", () => {
    const file = fresh();
    writeSample(file);
    const b = readFileSync(file);
    b.writeUInt32LE(SNAPSHOT_FORMAT.VERSION + 1, 8);
    writeFileSync(file, b);
    refused(file, /format version 2; this paravm reads version 1/);
  });

  it("refuses a file that is not a snapshot, or whose writing never finished", () => {
    const file = fresh();
    writeFileSync(file, "#!/bin/sh\necho not a snapshot at all\n");
    refused(file, /not a paravm snapshot/);
    const aborted = fresh();
    const w = new SnapshotWriter(aborted);
    w.json("vm", { a: 1 });
    w.abort();
    refused(aborted, /no PARAVMSN magic/);
  });

  it("refuses a truncated file at every cut, naming what is missing", () => {
    const file = fresh();
    writeSample(file);
    const full = readFileSync(file);
    for (const cut of [3, 16, 20, full.length - RAM_PAGE - 7, full.length - 1]) {
      const f = fresh();
      writeFileSync(f, full.subarray(0, cut));
      truncateSync(f, cut);
      refused(f, /truncated|shorter than the header/);
    }
  });

  it("refuses a flipped bit in any section's payload, naming the section", () => {
    const file = fresh();
    writeSample(file);
    const full = readFileSync(file);
    const ramAt = full.indexOf(Buffer.from("ram")) + 20;
    for (const [at, section] of [
      [full.indexOf(Buffer.from('"weight"')) + 2, "vm"],
      [ramAt + 600, "ram"],
      [full.length - 2, "blob"],
    ] as const) {
      const b = Buffer.from(full);
      b[at]! ^= 0x10;
      const f = fresh();
      writeFileSync(f, b);
      refused(f, new RegExp(`section ${section} is corrupt`));
    }
  });

  it("refuses RAM of another size, and bytes trailing the last section", () => {
    const file = fresh();
    writeSample(file);
    const s = readSnapshot(file);
    assert.throws(() => readRam(file, s.get("ram")!, new Uint8Array(2 << 20)), /RAM of 256 pages \(1 MiB\); this VM has 512 \(2 MiB\)/);
    const f = fresh();
    writeFileSync(f, Buffer.concat([readFileSync(file), Buffer.from("junk")]));
    refused(f, /4 bytes after the last section/);
  });

  it("a missing or mistyped section is named", () => {
    const file = fresh();
    writeSample(file);
    const s = readSnapshot(file);
    assert.throws(() => need(file, s, "plic", SECTION_KIND.JSON), /has no section plic/);
    assert.throws(() => need(file, s, "ram", SECTION_KIND.JSON), /section ram is ram, expected json/);
  });
});

describe("one section without the others (readOneSection)", () => {
  it("reads and checks the section asked for, skipping the payloads of the others", () => {
    const file = fresh();
    const { state } = writeSample(file);
    // The last section is corrupt: the whole file is refused, the first section still reads.
    const bytes = readFileSync(file);
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(file, bytes);
    assert.throws(() => readSnapshot(file), /section blob is corrupt/);
    const vm = readOneSection(file, "vm");
    assert.equal(vm.kind, SECTION_KIND.JSON);
    assert.deepEqual(JSON.parse(Buffer.from(vm.payload).toString("utf8")), state);
  });

  it("refuses a corrupt section, a missing one, and a file that is not a snapshot", () => {
    const file = fresh();
    writeSample(file);
    const bytes = readFileSync(file);
    bytes[SNAPSHOT_FORMAT.HEADER_BYTES + 1 + 2 + 13 + 2]! ^= 0x01; // inside the vm section's JSON
    writeFileSync(file, bytes);
    assert.throws(() => readOneSection(file, "vm"), (e: unknown) => e instanceof SnapshotError && /section vm is corrupt \(CRC-32/.test(e.message));
    const good = fresh();
    writeSample(good);
    assert.throws(() => readOneSection(good, "kernel"), /has no section kernel/);
    const junk = fresh();
    writeFileSync(junk, "PARAVMSX and more");
    assert.throws(() => readOneSection(junk, "vm"), /not a paravm snapshot/);
  });
});
