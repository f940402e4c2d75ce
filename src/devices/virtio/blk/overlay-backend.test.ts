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

describe("the overlay in a VM snapshot", () => {
  test("save → load into a fresh overlay reads back the same disk; hostile bytes are refused and change nothing", () => {
    const a = new OverlayBackend(base());
    a.write(512 * 3, new Uint8Array(512).fill(9));
    a.write(100, new Uint8Array(10).fill(5));
    const b = new OverlayBackend(base());
    b.load(a.save());
    const ra = new Uint8Array(8 * 512);
    const rb = new Uint8Array(8 * 512);
    a.read(0, ra);
    b.read(0, rb);
    assert.deepEqual(rb, ra);
    assert.equal(b.overlayBytes, 1024);
    const saved = a.save();
    const beyond = saved.slice();
    new DataView(beyond.buffer).setUint32(4, 8, true);
    assert.throws(() => b.load(beyond), /sector 8 is beyond the disk's 8/);
    assert.throws(() => b.load(saved.subarray(0, saved.length - 1)), /bytes for 2 sectors/);
    assert.throws(() => b.load(new Uint8Array(2)), /too short/);
    b.read(0, rb);
    assert.deepEqual(rb, ra, "a refused load left the overlay as it was");
  });
});
