import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GuestRam } from "../../mem/ram.js";
import { MockQueue } from "./mock-driver.js";
import { areaSizes, checkLayout, copyFromSegments, copyToSegments, VirtQueue } from "./queue.js";

const BASE = 0x8000_0000;

function makeQueue(size = 8, opts: { eventIdx?: boolean; indirect?: boolean } = {}) {
  const mem = new GuestRam(BASE, 1 << 16);
  let next = BASE + 0x1000;
  const arena = {
    alloc(len: number, align = 16) {
      const at = Math.ceil(next / align) * align;
      next = at + Math.max(len, 1);
      return at;
    },
  };
  const s = areaSizes(size);
  const layout = { size, desc: arena.alloc(s.desc), driver: arena.alloc(s.driver), device: arena.alloc(s.device) };
  const errors: string[] = [];
  const q = new VirtQueue(mem, layout, {
    eventIdx: opts.eventIdx ?? false,
    indirect: opts.indirect ?? true,
    onError: (r) => errors.push(r),
  });
  const drv = new MockQueue(mem, arena, 0, size, layout.desc, layout.driver, layout.device);
  return { mem, q, drv, errors, layout };
}

describe("2.7 split virtqueue, device side", () => {
  test("2.7 layout checks: power-of-two size, alignment, inside RAM", () => {
    const mem = new GuestRam(BASE, 1 << 16);
    const ok = { size: 8, desc: BASE, driver: BASE + 0x100, device: BASE + 0x200 };
    assert.equal(checkLayout(mem, ok, 256), null);
    assert.match(checkLayout(mem, { ...ok, size: 0 }, 256)!, /power of two/);
    assert.match(checkLayout(mem, { ...ok, size: 512 }, 256)!, /power of two/);
    assert.match(checkLayout(mem, { ...ok, driver: BASE + 0x101 }, 256)!, /driver area/);
    assert.match(checkLayout(mem, { ...ok, device: BASE + 0x202 }, 256)!, /device area/);
    assert.match(checkLayout(mem, { ...ok, desc: BASE + (1 << 16) - 64 }, 256)!, /descriptor table/);
  });

  test("pop returns readable and writable segments with totals; null when empty", () => {
    const { q, drv } = makeQueue();
    assert.equal(q.pop(), null);
    const { head, addrs } = drv.add([{ len: 10 }, { len: 20 }, { len: 30, write: true }]);
    const c = q.pop()!;
    assert.equal(c.head, head);
    assert.deepEqual(c.readable, [{ addr: addrs[0], len: 10 }, { addr: addrs[1], len: 20 }]);
    assert.deepEqual(c.writable, [{ addr: addrs[2], len: 30 }]);
    assert.equal(c.readableLen, 30);
    assert.equal(c.writableLen, 30);
    assert.equal(q.pop(), null);
  });

  test("indices wrap at 2^16", () => {
    const { q, drv } = makeQueue(4);
    for (let i = 0; i < 4; i++) drv.writeDesc(i, { addr: BASE + 0x100, len: 1, flags: 2, next: 0 });
    for (let i = 0; i < 70000; i += 1) {
      const head = i % 4;
      drv.publish(head);
      const c = q.pop()!;
      assert.equal(c.head, head);
      q.pushUsed(c.head, 1);
      if (i % 10007 === 0) assert.equal(drv.usedIdx(), (i + 1) & 0xffff);
    }
    assert.equal(drv.usedIdx(), 70000 & 0xffff);
  });

  test("copy helpers cross segment boundaries and honour skip", () => {
    const { mem, q, drv } = makeQueue();
    drv.add([{ len: 3, write: true }, { len: 3, write: true }]);
    const c = q.pop()!;
    assert.equal(copyToSegments(mem, c.writable, new Uint8Array([1, 2, 3, 4])), 4);
    assert.equal(copyToSegments(mem, c.writable, new Uint8Array([9, 9, 9, 9]), 4), 2);
    const out = new Uint8Array(6);
    assert.equal(copyFromSegments(mem, c.writable, out), 6);
    assert.deepEqual(out, new Uint8Array([1, 2, 3, 4, 9, 9]));
    const tail = new Uint8Array(10);
    assert.equal(copyFromSegments(mem, c.writable, tail, 5), 1);
  });

  test("after an error the queue stays broken and reports once", () => {
    const { q, drv, errors } = makeQueue();
    drv.setAvailIdx(100);
    assert.equal(q.pop(), null);
    drv.setAvailIdx(0);
    drv.add([{ len: 1 }]);
    assert.equal(q.pop(), null);
    assert.equal(errors.length, 1);
    assert.match(q.error!, /avail idx/);
  });
});

/** xorshift32: a seeded generator, so a failure reproduces. */
function rng(seed: number) {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

describe("hostile rings (fuzz)", () => {
  test("random descriptor tables and rings never throw, and every chain handed out lies in RAM", () => {
    let served = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const { mem, q, layout } = makeQueue(8, { eventIdx: (seed & 1) === 1, indirect: (seed & 2) === 2 });
      const bytes = mem.u8;
      // Random descriptors pointing mostly into RAM, random ring contents.
      for (let o = layout.desc - BASE; o < layout.device - BASE + areaSizes(8).device; o++) bytes[o] = r() & 0xff;
      const view = new DataView(mem.sab);
      for (let i = 0; i < 8; i++) {
        const d = layout.desc - BASE + 16 * i;
        if (r() & 1) view.setUint32(d, BASE + (r() % (1 << 16)), true);
        if (r() % 8 !== 0) view.setUint32(d + 4, 0, true);
        if (r() & 1) view.setUint32(d + 8, r() % 4096, true);
        if (r() & 1) view.setUint16(d + 14, r() % 10, true);
        if (r() % 4 !== 0) view.setUint16(d + 12, r() & 3, true);
      }
      // Mostly plausible indices, so the walk gets past the avail-idx check.
      view.setUint16(layout.driver - BASE + 2, r() % 10, true);
      for (let i = 0; i < 8; i++) view.setUint16(layout.driver - BASE + 4 + 2 * i, r() % 10, true);
      assert.doesNotThrow(() => {
        for (let n = 0; n < 20; n++) {
          const c = q.pop();
          if (!c) break;
          served++;
          for (const s of [...c.readable, ...c.writable]) assert.ok(mem.contains(s.addr, s.len));
          q.pushUsed(c.head, 0);
        }
        q.takeNotification();
      }, `seed ${seed}`);
    }
    assert.ok(served > 20, `only ${served} chains were valid: the fuzz is not reaching the walk`);
  });
});
