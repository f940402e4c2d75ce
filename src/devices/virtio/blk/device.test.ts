import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { GuestRam } from "../../../mem/ram.js";
import { type BufSpec, MockDriver, type MockQueue } from "../mock-driver.js";
import { VIRTIO_MMIO, VirtioMmioTransport } from "../mmio.js";
import { VIRTQ } from "../queue.js";
import { bit, VIRTIO_F, VIRTIO_STATUS } from "../virtio.js";
import {
  type BlockBackend,
  MemoryBackend,
  VIRTIO_BLK,
  VIRTIO_BLK_CONFIG,
  VIRTIO_BLK_F,
  VIRTIO_BLK_S,
  VIRTIO_BLK_T,
  VirtioBlk,
} from "./device.js";
import { DiskError, FileBackend, parseDiskSpec } from "./file-backend.js";

const SECTORS = 64;

function setup(backend: BlockBackend = new MemoryBackend(SECTORS * 512), serial?: string) {
  const mem = new GuestRam(0x8000_0000, 4 << 20);
  const irq = { level: false, set(l: boolean) { this.level = l; } };
  const blk = new VirtioBlk(backend, { serial });
  const dev = new VirtioMmioTransport(blk, mem, irq);
  const drv = new MockDriver(mem, dev);
  return { mem, irq, dev, drv, blk, backend };
}

function header(type: number, sector: number | bigint = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, BigInt(sector), true);
  return b;
}

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

const hdr = (type: number, sector: number | bigint = 0): BufSpec => ({ len: 16, data: header(type, sector) });
const status: BufSpec = { len: 1, write: true };

/** Publish a request, notify, and return its used element and status byte (last writable byte). */
function run(drv: MockDriver, q: MockQueue, bufs: BufSpec[], indirect = false) {
  const { head, addrs } = q.add(bufs, { indirect });
  const before = q.usedIdx();
  drv.notify(0);
  assert.equal(q.usedIdx(), (before + 1) & 0xffff, "one used element");
  const used = q.usedElem(before);
  assert.equal(used.id, head);
  let statusAt = -1;
  for (let i = bufs.length - 1; i >= 0; i--) {
    if (bufs[i]!.write && bufs[i]!.len > 0) {
      statusAt = addrs[i]! + bufs[i]!.len - 1;
      break;
    }
  }
  const st = statusAt < 0 ? -1 : drv.mem.readBytes(statusAt, 1)[0]!;
  return { used, status: st, addrs };
}

describe("5.2 block device", () => {
  test("5.2.1 device id 2; 5.2.2 one virtqueue (requestq)", () => {
    const { drv } = setup();
    assert.equal(drv.r(VIRTIO_MMIO.DEVICE_ID), 2);
    drv.w(VIRTIO_MMIO.QUEUE_SEL, 0);
    assert.equal(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), VIRTIO_BLK.QUEUE_SIZE);
    drv.w(VIRTIO_MMIO.QUEUE_SEL, 1);
    assert.equal(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), 0);
  });

  test("5.2.3 feature bits: SEG_MAX, BLK_SIZE, FLUSH, DISCARD, WRITE_ZEROES; RO only when read-only", () => {
    const F = VIRTIO_BLK_F;
    const rw = setup().drv.deviceFeatures();
    for (const f of [F.SEG_MAX, F.BLK_SIZE, F.FLUSH, F.DISCARD, F.WRITE_ZEROES]) assert.notEqual(rw & bit(f), 0n, `bit ${f}`);
    assert.equal(rw & bit(F.RO), 0n);
    assert.notEqual(rw & bit(VIRTIO_F.VERSION_1), 0n);
    const ro = setup(new MemoryBackend(SECTORS * 512, true)).drv.deviceFeatures();
    assert.notEqual(ro & bit(F.RO), 0n);
    assert.equal(ro & (bit(F.DISCARD) | bit(F.WRITE_ZEROES)), 0n);
  });

  test("5.2.4 config layout: capacity, seg_max, blk_size, discard and write-zeroes limits", () => {
    const { dev } = setup(new MemoryBackend(0x1_2345 * 512));
    const C = VIRTIO_BLK_CONFIG;
    const r = (off: number) => dev.read(VIRTIO_MMIO.CONFIG + off, 4) >>> 0;
    assert.equal(r(C.CAPACITY), 0x1_2345);
    assert.equal(r(C.CAPACITY + 4), 0);
    assert.equal(r(C.SEG_MAX), VIRTIO_BLK.SEG_MAX);
    assert.equal(r(C.BLK_SIZE), 512);
    assert.equal(r(C.MAX_DISCARD_SECTORS), VIRTIO_BLK.MAX_DISCARD_SECTORS);
    assert.equal(r(C.MAX_DISCARD_SEG), VIRTIO_BLK.MAX_DISCARD_SEG);
    assert.equal(r(C.DISCARD_SECTOR_ALIGNMENT), 1);
    assert.equal(r(C.MAX_WRITE_ZEROES_SECTORS), VIRTIO_BLK.MAX_WRITE_ZEROES_SECTORS);
    assert.equal(r(C.MAX_WRITE_ZEROES_SEG), VIRTIO_BLK.MAX_WRITE_ZEROES_SEG);
    assert.equal(dev.read(VIRTIO_MMIO.CONFIG + C.WRITE_ZEROES_MAY_UNMAP, 1), 0);
    // Byte-wide reads of the 64-bit capacity work too (Linux reads it as two 32-bit halves or bytes).
    assert.equal(dev.read(VIRTIO_MMIO.CONFIG + 1, 1), 0x23);
  });
  test("5.2.4 the seg_max limit fits a direct chain (seg_max + header + status ≤ queue size)", () => {
    assert.ok(VIRTIO_BLK.SEG_MAX + 2 <= VIRTIO_BLK.QUEUE_SIZE);
  });
});

describe("5.2.6 device operation: IN and OUT", () => {
  test("write through a multi-segment chain, read back through an indirect chain", () => {
    const { drv, mem, backend, irq } = setup();
    const [q] = drv.bringUp();
    const data = pattern(2048, 3);
    const w = run(drv, q!, [
      hdr(VIRTIO_BLK_T.OUT, 5),
      { len: 512, data: data.subarray(0, 512) },
      { len: 1024, data: data.subarray(512, 1536) },
      { len: 512, data: data.subarray(1536) },
      status,
    ]);
    assert.equal(w.status, VIRTIO_BLK_S.OK);
    assert.equal(w.used.len, 1, "OUT writes only the status byte");
    assert.deepEqual((backend as MemoryBackend).bytes.subarray(5 * 512, 5 * 512 + 2048), data);
    assert.equal(irq.level, true);

    const r = run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 5), { len: 1536, write: true }, { len: 512, write: true }, status], true);
    assert.equal(r.status, VIRTIO_BLK_S.OK);
    assert.equal(r.used.len, 2049, "IN: data + status");
    assert.deepEqual(mem.readBytes(r.addrs[1]!, 1536), data.subarray(0, 1536));
    assert.deepEqual(mem.readBytes(r.addrs[2]!, 512), data.subarray(1536));
  });

  test("the header split oddly over segments, data sharing segments with header and status", () => {
    const { drv, mem, backend } = setup();
    const [q] = drv.bringUp();
    const data = pattern(1024, 11);
    const h = header(VIRTIO_BLK_T.OUT, 9);
    const tail = new Uint8Array(4 + 700);
    tail.set(h.subarray(12), 0);
    tail.set(data.subarray(0, 700), 4);
    const w = run(drv, q!, [
      { len: 5, data: h.subarray(0, 5) },
      { len: 7, data: h.subarray(5, 12) },
      { len: tail.length, data: tail },
      { len: 324, data: data.subarray(700) },
      status,
    ]);
    assert.equal(w.status, VIRTIO_BLK_S.OK);
    assert.deepEqual((backend as MemoryBackend).bytes.subarray(9 * 512, 9 * 512 + 1024), data);
    // Read with the status byte as the last byte of the one data segment.
    const hh = header(VIRTIO_BLK_T.IN, 9);
    const r = run(drv, q!, [{ len: 3, data: hh.subarray(0, 3) }, { len: 13, data: hh.subarray(3) }, { len: 1025, write: true }]);
    assert.equal(r.status, VIRTIO_BLK_S.OK);
    assert.equal(r.used.len, 1025);
    assert.deepEqual(mem.readBytes(r.addrs[2]!, 1024), data);
  });

  test("several requests in one notification complete in order; the last sector is reachable", () => {
    const { drv, backend } = setup();
    const [q] = drv.bringUp();
    const a = q!.add([hdr(VIRTIO_BLK_T.OUT, SECTORS - 1), { len: 512, data: pattern(512, 1) }, status]);
    const b = q!.add([hdr(VIRTIO_BLK_T.OUT, 0), { len: 512, data: pattern(512, 2) }, status], { indirect: true });
    drv.notify(0);
    assert.equal(q!.usedIdx(), 2);
    assert.equal(q!.usedElem(0).id, a.head);
    assert.equal(q!.usedElem(1).id, b.head);
    const bytes = (backend as MemoryBackend).bytes;
    assert.deepEqual(bytes.subarray((SECTORS - 1) * 512), pattern(512, 1));
    assert.deepEqual(bytes.subarray(0, 512), pattern(512, 2));
  });

  test("a zero-length read or write is OK and moves nothing", () => {
    const { drv } = setup();
    const [q] = drv.bringUp();
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 3), status]).status, VIRTIO_BLK_S.OK);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.OUT, SECTORS), status]).status, VIRTIO_BLK_S.OK);
  });
});

describe("5.2.6 device operation: errors complete with IOERR", () => {
  test("a request past the end of the disk", () => {
    const { drv, blk } = setup();
    const [q] = drv.bringUp();
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.IN, SECTORS - 1), { len: 1024, write: true }, status]).status, VIRTIO_BLK_S.IOERR);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.OUT, SECTORS), { len: 512, data: pattern(512, 0) }, status]).status, VIRTIO_BLK_S.IOERR);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 1n << 60n), { len: 512, write: true }, status]).status, VIRTIO_BLK_S.IOERR);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 0xffff_ffff_ffff_ffffn), { len: 512, write: true }, status]).status, VIRTIO_BLK_S.IOERR);
    assert.equal(blk.stats.ioErrors, 4);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 0), { len: 512, write: true }, status]).status, VIRTIO_BLK_S.OK);
  });

  test("a data length that is not a whole number of sectors", () => {
    const { drv } = setup();
    const [q] = drv.bringUp();
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 0), { len: 100, write: true }, status]).status, VIRTIO_BLK_S.IOERR);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.OUT, 0), { len: 513, data: new Uint8Array(513) }, status]).status, VIRTIO_BLK_S.IOERR);
  });

  test("a header shorter than 16 bytes", () => {
    const { drv } = setup();
    const [q] = drv.bringUp();
    const r = run(drv, q!, [{ len: 8, data: header(VIRTIO_BLK_T.IN).subarray(0, 8) }, { len: 512, write: true }, status]);
    assert.equal(r.status, VIRTIO_BLK_S.IOERR);
    assert.equal(r.used.len, 1);
  });

  test("5.2.6.2 a write to a read-only disk; reads still work", () => {
    const disk = new MemoryBackend(pattern(SECTORS * 512, 5), true);
    const { drv, mem } = setup(disk);
    const [q] = drv.bringUp();
    const before = disk.bytes.slice();
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.OUT, 0), { len: 512, data: new Uint8Array(512) }, status]).status, VIRTIO_BLK_S.IOERR);
    assert.deepEqual(disk.bytes, before);
    const r = run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 1), { len: 512, write: true }, status]);
    assert.equal(r.status, VIRTIO_BLK_S.OK);
    assert.deepEqual(mem.readBytes(r.addrs[1]!, 512), before.subarray(512, 1024));
  });

  test("a transfer larger than MAX_REQUEST_BYTES (overlapping segments naming far more than RAM)", () => {
    const { drv, mem } = setup(new MemoryBackend(128 * 1024 * 1024));
    const [q] = drv.bringUp();
    // 40 writable 1 MiB segments all over the same RAM, through an indirect table.
    const n = 42;
    const t = drv.arena.alloc(16 * n);
    const h = drv.arena.alloc(16);
    const st = drv.arena.alloc(1);
    mem.writeBytes(h, header(VIRTIO_BLK_T.IN, 0));
    q!.writeDesc(0, { addr: h, len: 16, flags: VIRTQ.DESC_F_NEXT, next: 1 }, t);
    for (let i = 1; i < n - 1; i++) q!.writeDesc(i, { addr: mem.base, len: 1 << 20, flags: 3, next: i + 1 }, t);
    q!.writeDesc(n - 1, { addr: st, len: 1, flags: VIRTQ.DESC_F_WRITE, next: 0 }, t);
    q!.writeDesc(0, { addr: t, len: 16 * n, flags: VIRTQ.DESC_F_INDIRECT, next: 0 });
    q!.publish(0);
    drv.notify(0);
    assert.equal(q!.usedElem(0).len, 1);
    assert.equal(mem.readBytes(st, 1)[0], VIRTIO_BLK_S.IOERR);
  });

  test("a host I/O error (the backend throws) is an IOERR, counted, never an exception", () => {
    const bad = new MemoryBackend(SECTORS * 512);
    bad.read = () => {
      throw new Error("EIO: i/o error, read");
    };
    const { drv, blk } = setup(bad);
    const [q] = drv.bringUp();
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 0), { len: 512, write: true }, status]).status, VIRTIO_BLK_S.IOERR);
    assert.equal(blk.stats.hostErrors, 1);
    assert.match(blk.stats.lastHostError ?? "", /EIO/);
    assert.equal(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
  });
});

describe("5.2.6 device operation: FLUSH, GET_ID, unsupported types", () => {
  test("FLUSH: backend.flush runs before the used element appears", () => {
    const disk = new MemoryBackend(SECTORS * 512);
    const { drv } = setup(disk);
    const [q] = drv.bringUp();
    let usedAtFlush = -1;
    disk.onFlush = () => {
      usedAtFlush = q!.usedIdx();
    };
    run(drv, q!, [hdr(VIRTIO_BLK_T.OUT, 0), { len: 512, data: pattern(512, 9) }, status]);
    const r = run(drv, q!, [hdr(VIRTIO_BLK_T.FLUSH), status]);
    assert.equal(r.status, VIRTIO_BLK_S.OK);
    assert.equal(r.used.len, 1);
    assert.equal(disk.flushes, 1);
    assert.equal(usedAtFlush, 1, "the flush ran while only the write had completed");
  });

  test("GET_ID: a 20-byte serial, zero-padded; a shorter buffer gets what fits", () => {
    const { drv, mem } = setup(undefined, "paravm-7");
    const [q] = drv.bringUp();
    const r = run(drv, q!, [hdr(VIRTIO_BLK_T.GET_ID), { len: 20, write: true }, status]);
    assert.equal(r.status, VIRTIO_BLK_S.OK);
    assert.equal(r.used.len, 21);
    const id = mem.readBytes(r.addrs[1]!, 20);
    assert.equal(Buffer.from(id.subarray(0, 8)).toString("latin1"), "paravm-7");
    assert.ok(id.subarray(8).every((b) => b === 0));
    const s = run(drv, q!, [hdr(VIRTIO_BLK_T.GET_ID), { len: 5, write: true }, status]);
    assert.equal(s.used.len, 6);
    assert.equal(Buffer.from(mem.readBytes(s.addrs[1]!, 5)).toString("latin1"), "parav");
  });

  test("an unknown type (SCSI, GET_LIFETIME, SECURE_ERASE, junk) completes with UNSUPP", () => {
    const { drv, blk } = setup();
    const [q] = drv.bringUp();
    for (const t of [2, VIRTIO_BLK_T.GET_LIFETIME, VIRTIO_BLK_T.SECURE_ERASE, 0xdead_beef]) {
      assert.equal(run(drv, q!, [hdr(t), { len: 512, write: true }, status]).status, VIRTIO_BLK_S.UNSUPP);
    }
    assert.equal(blk.stats.requests.other, 4);
    assert.equal(blk.stats.unsupported, 4);
  });
});

/** One struct virtio_blk_discard_write_zeroes per range. */
function ranges(...rs: [number | bigint, number, number][]): Uint8Array {
  const b = new Uint8Array(16 * rs.length);
  const v = new DataView(b.buffer);
  rs.forEach(([sector, num, flags], i) => {
    v.setBigUint64(16 * i, BigInt(sector), true);
    v.setUint32(16 * i + 8, num, true);
    v.setUint32(16 * i + 12, flags, true);
  });
  return b;
}

describe("5.2.6 device operation: DISCARD and WRITE_ZEROES", () => {
  test("WRITE_ZEROES zeroes every range; DISCARD succeeds", () => {
    const disk = new MemoryBackend(pattern(SECTORS * 512, 1));
    const { drv } = setup(disk);
    const [q] = drv.bringUp();
    const p = ranges([2, 3, 0], [10, 1, 1]);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.WRITE_ZEROES), { len: p.length, data: p }, status]).status, VIRTIO_BLK_S.OK);
    assert.ok(disk.bytes.subarray(2 * 512, 5 * 512).every((b) => b === 0));
    assert.ok(disk.bytes.subarray(10 * 512, 11 * 512).every((b) => b === 0));
    assert.notEqual(disk.bytes[5 * 512], 0);
    const d = ranges([20, 4, 0]);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.DISCARD), { len: 16, data: d }, status]).status, VIRTIO_BLK_S.OK);
  });

  test("a backend without writeZeroes gets zeroes written", () => {
    const disk = new MemoryBackend(pattern(SECTORS * 512, 1));
    const plain: BlockBackend = {
      sectors: disk.sectors,
      readonly: false,
      read: (o, d) => disk.read(o, d),
      write: (o, s) => disk.write(o, s),
      flush: () => {},
    };
    const { drv } = setup(plain);
    const [q] = drv.bringUp();
    const p = ranges([1, SECTORS - 1, 0]);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.WRITE_ZEROES), { len: 16, data: p }, status]).status, VIRTIO_BLK_S.OK);
    assert.ok(disk.bytes.subarray(512).every((b) => b === 0));
    assert.notEqual(disk.bytes[0], 0);
  });

  test("DISCARD with the unmap flag, or reserved flags, is UNSUPP; nothing is applied", () => {
    const disk = new MemoryBackend(pattern(SECTORS * 512, 1));
    const { drv } = setup(disk);
    const [q] = drv.bringUp();
    const before = disk.bytes.slice();
    const a = ranges([0, 1, 1]);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.DISCARD), { len: 16, data: a }, status]).status, VIRTIO_BLK_S.UNSUPP);
    const b = ranges([0, 1, 0], [4, 1, 2]);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.WRITE_ZEROES), { len: 32, data: b }, status]).status, VIRTIO_BLK_S.UNSUPP);
    assert.deepEqual(disk.bytes, before);
  });

  test("bad payloads are IOERR: no range, partial range, range past the end, too many ranges", () => {
    const { drv } = setup();
    const [q] = drv.bringUp();
    const T = VIRTIO_BLK_T.WRITE_ZEROES;
    assert.equal(run(drv, q!, [hdr(T), status]).status, VIRTIO_BLK_S.IOERR);
    assert.equal(run(drv, q!, [hdr(T), { len: 10, data: new Uint8Array(10) }, status]).status, VIRTIO_BLK_S.IOERR);
    const past = ranges([SECTORS - 1, 2, 0]);
    assert.equal(run(drv, q!, [hdr(T), { len: 16, data: past }, status]).status, VIRTIO_BLK_S.IOERR);
    const many = ranges(...Array.from({ length: VIRTIO_BLK.MAX_WRITE_ZEROES_SEG + 1 }, (): [number, number, number] => [0, 1, 0]));
    assert.equal(run(drv, q!, [hdr(T), { len: many.length, data: many }, status]).status, VIRTIO_BLK_S.IOERR);
  });

  test("not negotiated (or read-only disk): UNSUPP", () => {
    const { drv } = setup();
    const all = drv.deviceFeatures() & ~(bit(VIRTIO_BLK_F.DISCARD) | bit(VIRTIO_BLK_F.WRITE_ZEROES));
    const [q] = drv.bringUp(all);
    const p = ranges([0, 1, 0]);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.DISCARD), { len: 16, data: p }, status]).status, VIRTIO_BLK_S.UNSUPP);
    const ro = setup(new MemoryBackend(SECTORS * 512, true));
    const [q2] = ro.drv.bringUp();
    assert.equal(run(ro.drv, q2!, [hdr(VIRTIO_BLK_T.WRITE_ZEROES), { len: 16, data: p }, status]).status, VIRTIO_BLK_S.UNSUPP);
  });
});

describe("hostile chains: never an exception", () => {
  test("no status byte at all (every segment readable): returned with used length 0, device goes on", () => {
    const { drv, blk } = setup();
    const [q] = drv.bringUp();
    let r!: ReturnType<typeof run>;
    assert.doesNotThrow(() => {
      r = run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 0), { len: 512, data: new Uint8Array(512) }]);
    });
    assert.equal(r.used.len, 0);
    assert.equal(blk.stats.malformed, 1);
    assert.equal(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 0), { len: 512, write: true }, status]).status, VIRTIO_BLK_S.OK);
  });

  test("the status byte in a readable segment (a write with nothing device-writable)", () => {
    const { drv, blk, backend } = setup();
    const [q] = drv.bringUp();
    const r = run(drv, q!, [hdr(VIRTIO_BLK_T.OUT, 0), { len: 512, data: pattern(512, 4) }, { len: 1, data: Uint8Array.of(0x77) }]);
    assert.equal(r.used.len, 0);
    assert.equal(blk.stats.malformed, 1);
    // Nothing was written: a request that cannot report its status is not served.
    assert.ok((backend as MemoryBackend).bytes.subarray(0, 512).every((b) => b === 0));
  });

  test("only a status byte (no header)", () => {
    const { drv } = setup();
    const [q] = drv.bringUp();
    const r = run(drv, q!, [status]);
    assert.equal(r.status, VIRTIO_BLK_S.IOERR);
    assert.equal(r.used.len, 1);
  });

  test("a readable segment after a writable one, a looping chain, a bad avail idx → DEVICE_NEEDS_RESET", () => {
    const { drv, dev } = setup();
    const [q] = drv.bringUp();
    assert.doesNotThrow(() => {
      q!.add([hdr(VIRTIO_BLK_T.IN, 0), { len: 512, write: true }, { len: 1, data: new Uint8Array(1) }]);
      drv.notify(0);
    });
    assert.notEqual(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
    assert.match(dev.lastError ?? "", /readable descriptor after a writable/);
    // Reset, then a loop.
    const [q2] = drv.bringUp();
    q2!.writeDesc(0, { addr: drv.mem.base + 0x100, len: 16, flags: VIRTQ.DESC_F_NEXT, next: 0 });
    q2!.publish(0);
    assert.doesNotThrow(() => drv.notify(0));
    assert.match(dev.lastError ?? "", /loops/);
    const [q3] = drv.bringUp();
    q3!.setAvailIdx(1000);
    assert.doesNotThrow(() => drv.notify(0));
    // After a reset the device works again.
    const [q4] = drv.bringUp();
    assert.equal(run(drv, q4!, [hdr(VIRTIO_BLK_T.IN, 0), { len: 512, write: true }, status]).status, VIRTIO_BLK_S.OK);
  });

  test("a data segment outside RAM is refused by the queue (NEEDS_RESET), nothing read from the disk", () => {
    const disk = new MemoryBackend(SECTORS * 512);
    let reads = 0;
    const orig = disk.read.bind(disk);
    disk.read = (o, d) => {
      reads++;
      orig(o, d);
    };
    const { drv, mem } = setup(disk);
    const [q] = drv.bringUp();
    const h = drv.arena.alloc(16);
    mem.writeBytes(h, header(VIRTIO_BLK_T.IN, 0));
    const st = drv.arena.alloc(1);
    q!.writeDesc(0, { addr: h, len: 16, flags: VIRTQ.DESC_F_NEXT, next: 1 });
    q!.writeDesc(1, { addr: mem.base + mem.size - 256, len: 512, flags: 3, next: 2 });
    q!.writeDesc(2, { addr: st, len: 1, flags: VIRTQ.DESC_F_WRITE, next: 0 });
    q!.publish(0);
    assert.doesNotThrow(() => drv.notify(0));
    assert.notEqual(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
    assert.equal(reads, 0);
  });
});

describe("counters", () => {
  test("requests by type, bytes read and written, errors", () => {
    const { drv, blk } = setup();
    const [q] = drv.bringUp();
    run(drv, q!, [hdr(VIRTIO_BLK_T.OUT, 0), { len: 1024, data: new Uint8Array(1024) }, status]);
    run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 0), { len: 512, write: true }, status]);
    run(drv, q!, [hdr(VIRTIO_BLK_T.IN, SECTORS), { len: 512, write: true }, status]);
    run(drv, q!, [hdr(VIRTIO_BLK_T.FLUSH), status]);
    run(drv, q!, [hdr(VIRTIO_BLK_T.GET_ID), { len: 20, write: true }, status]);
    assert.deepEqual(blk.stats.requests, { in: 2, out: 1, flush: 1, getId: 1, discard: 0, writeZeroes: 0, other: 0 });
    assert.equal(blk.stats.bytesRead, 512);
    assert.equal(blk.stats.bytesWritten, 1024);
    assert.equal(blk.stats.ioErrors, 1);
  });
});

describe("file backend", () => {
  const dir = mkdtempSync(join(tmpdir(), "paravm-blk-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const cache of ["writeback", "none"] as const) {
    test(`cache=${cache}: writes reach the file; reads come from it`, () => {
      const path = join(dir, `disk-${cache}.img`);
      writeFileSync(path, pattern(SECTORS * 512, 2));
      const fb = new FileBackend(path, { cache });
      try {
        assert.equal(fb.sectors, SECTORS);
        const { drv, mem } = setup(fb);
        const [q] = drv.bringUp();
        const data = pattern(1536, 77);
        assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.OUT, 7), { len: 1536, data }, status], true).status, VIRTIO_BLK_S.OK);
        assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.FLUSH), status]).status, VIRTIO_BLK_S.OK);
        assert.deepEqual(new Uint8Array(readFileSync(path)).subarray(7 * 512, 7 * 512 + 1536), data);
        const r = run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 6), { len: 2048, write: true }, status]);
        assert.deepEqual(mem.readBytes(r.addrs[1]!, 512), pattern(SECTORS * 512, 2).subarray(6 * 512, 7 * 512));
        assert.deepEqual(mem.readBytes(r.addrs[1]! + 512, 1536), data);
        const z = ranges([0, 2, 0]);
        assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.WRITE_ZEROES), { len: 16, data: z }, status]).status, VIRTIO_BLK_S.OK);
        assert.ok(new Uint8Array(readFileSync(path)).subarray(0, 1024).every((b) => b === 0));
      } finally {
        fb.close();
      }
    });
  }

  test("readonly: RO offered, writes IOERR, the file unchanged", () => {
    const path = join(dir, "ro.img");
    const content = pattern(8 * 512, 3);
    writeFileSync(path, content);
    const fb = new FileBackend(path, { readonly: true });
    try {
      const { drv } = setup(fb);
      assert.notEqual(drv.deviceFeatures() & bit(VIRTIO_BLK_F.RO), 0n);
      const [q] = drv.bringUp();
      assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.OUT, 0), { len: 512, data: new Uint8Array(512) }, status]).status, VIRTIO_BLK_S.IOERR);
      assert.deepEqual(new Uint8Array(readFileSync(path)), content);
    } finally {
      fb.close();
    }
  });

  test("after close, I/O is an IOERR, not an exception", () => {
    const path = join(dir, "closed.img");
    writeFileSync(path, new Uint8Array(4096));
    const fb = new FileBackend(path);
    const { drv } = setup(fb);
    const [q] = drv.bringUp();
    fb.close();
    fb.close();
    assert.equal(run(drv, q!, [hdr(VIRTIO_BLK_T.IN, 0), { len: 512, write: true }, status]).status, VIRTIO_BLK_S.IOERR);
  });

  test("unusable files are one-line DiskErrors", () => {
    const odd = join(dir, "odd.img");
    writeFileSync(odd, new Uint8Array(1000));
    const empty = join(dir, "empty.img");
    writeFileSync(empty, "");
    assert.throws(() => new FileBackend(join(dir, "nope")), (e: Error) => e instanceof DiskError && /no such file/.test(e.message));
    assert.throws(() => new FileBackend(odd), /not a whole number of 512-byte sectors/);
    assert.throws(() => new FileBackend(empty), /empty file/);
    assert.throws(() => new FileBackend(dir), DiskError);
  });

  test("--disk option parsing", () => {
    assert.deepEqual(parseDiskSpec("a.img"), { path: "a.img", readonly: false, cache: "writeback", snapshot: false });
    assert.deepEqual(parseDiskSpec("a.img,readonly,cache=none"), { path: "a.img", readonly: true, cache: "none", snapshot: false });
    assert.deepEqual(parseDiskSpec("a.img,ro"), { path: "a.img", readonly: true, cache: "writeback", snapshot: false });
    assert.deepEqual(parseDiskSpec("a.img,readonly=off,cache=writeback"), { path: "a.img", readonly: false, cache: "writeback", snapshot: false });
    assert.throws(() => parseDiskSpec("a.img,fast"), /unknown option 'fast'/);
    assert.throws(() => parseDiskSpec("a.img,cache=unsafe"), /cache=unsafe: expected cache=writeback or cache=none/);
    assert.throws(() => parseDiskSpec("a.img,readonly=maybe"), /expected on or off/);
    assert.throws(() => parseDiskSpec(",readonly"), /no file name/);
    assert.deepEqual(parseDiskSpec("a.img,snapshot"), { path: "a.img", readonly: false, cache: "writeback", snapshot: true });
    assert.throws(() => parseDiskSpec("a.img,snapshot,readonly"), /pick one/);
  });
});
