import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryBackend } from "./device.js";
import { OverlayBackend } from "./overlay-backend.js";

function base(): MemoryBackend {
  const bytes = new Uint8Array(8 * 512);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
  return new MemoryBackend(bytes, true);
}

describe("copy-on-write overlay (--disk FILE,snapshot)", () => {
  test("writes read back, the base disk is untouched, unwritten sectors come from the base", () => {
    const b = base();
    const before = b.bytes.slice();
    const o = new OverlayBackend(b);
    assert.equal(o.readonly, false);
    assert.equal(o.sectors, 8);
    o.write(512, new Uint8Array(1024).fill(7));
    const got = new Uint8Array(2048);
    o.read(0, got);
    assert.deepEqual(got.subarray(0, 512), before.subarray(0, 512));
    assert.ok(got.subarray(512, 1536).every((x) => x === 7));
    assert.deepEqual(got.subarray(1536), before.subarray(1536, 2048));
    assert.deepEqual(b.bytes, before);
    assert.equal(o.overlayBytes, 1024);
  });

  test("a partial-sector write keeps the rest of the sector from the base", () => {
    const b = base();
    const o = new OverlayBackend(b);
    o.write(600, Uint8Array.of(1, 2, 3));
    const s = new Uint8Array(512);
    o.read(512, s);
    assert.deepEqual(s.subarray(88, 91), Uint8Array.of(1, 2, 3));
    assert.equal(s[87], b.bytes[512 + 87]);
    assert.equal(s[91], b.bytes[512 + 91]);
  });
});
