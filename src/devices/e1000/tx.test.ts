import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ethFrame, MockE1000Driver, NIC_MAC, type Desc } from "./mock-driver.js";
import { CTRL, REG, STAT, TXD, TXD_CMD, TUCMD } from "./regs.js";

const PEER = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];
const SRC_IP = [10, 0, 0, 1];
const DST_IP = [10, 0, 0, 2];
const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
const TCP_FIN = 0x01;

// An independent checksum for verification (word by word, folding as it goes).
function csum(parts: number[]): number {
  let s = 0;
  for (const w of parts) {
    s += w;
    s = (s & 0xffff) + (s >>> 16);
  }
  return s;
}
const words = (b: Uint8Array, start: number, end: number) => {
  const out: number[] = [];
  for (let i = start; i < end; i += 2) out.push((b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0));
  return out;
};
const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const set16 = (b: Uint8Array, at: number, v: number) => {
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
};
const pseudo = (proto: number, len: number) => [...words(Uint8Array.from([...SRC_IP, ...DST_IP]), 0, 8), proto, len];
const ipOk = (f: Uint8Array) => csum(words(f, 14, 34)) === 0xffff;
function l4Ok(f: Uint8Array, proto: number): boolean {
  const len = u16(f, 16) - 20;
  return csum([...pseudo(proto, len), ...words(f, 34, 34 + len)]) === 0xffff;
}

/** Ethernet + IPv4 + TCP (20-byte header) carrying `payload`; checksums left for the test to fill. */
function tcpFrame(payload: Uint8Array, seq: number, flags: number, id = 0x1000): Uint8Array {
  const seg = new Uint8Array(40 + payload.length);
  seg.set([0x45, 0, 0, 0, id >> 8, id & 0xff, 0x40, 0, 64, 6, 0, 0, ...SRC_IP, ...DST_IP], 0);
  set16(seg, 2, seg.length);
  seg.set([0x04, 0xd2, 0x00, 0x50], 20);
  seg.set([seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff, 0, 0, 0, 1, 0x50, flags, 0xff, 0xff], 24);
  seg.set(payload, 40);
  return ethFrame(PEER, NIC_MAC, 0x0800, seg);
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);

/** A context descriptor (DEXT, DTYP 0). */
interface Ctx {
  ipcss?: number;
  ipcso?: number;
  ipcse?: number;
  tucss: number;
  tucso: number;
  tucse?: number;
  tucmd: number;
  paylen?: number;
  hdrLen?: number;
  mss?: number;
}
function contextDesc(c: Ctx): Desc {
  const lo = (c.ipcss ?? 0) | ((c.ipcso ?? 0) << 8) | ((c.ipcse ?? 0) << 16);
  const hi = c.tucss | (c.tucso << 8) | ((c.tucse ?? 0) << 16);
  return {
    addr: (lo >>> 0) + (hi >>> 0) * 0x1_0000_0000,
    lower: ((TXD_CMD.DEXT | c.tucmd) << 24) | (c.paylen ?? 0),
    upper: ((c.hdrLen ?? 0) << 8) | ((c.mss ?? 0) << 16),
  };
}

/** Data descriptors (DEXT, DTYP 1) for `bytes`, split at `chunks`; EOP|IFCS|RS on the last. */
function dataDescs(d: MockE1000Driver, bytes: Uint8Array, cuts: number[], popts: number, tse: boolean): Desc[] {
  const edges = [0, ...cuts, bytes.length];
  const out: Desc[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const part = bytes.subarray(edges[i]!, edges[i + 1]!);
    const last = i + 2 === edges.length;
    const cmd = TXD_CMD.DEXT | (tse ? TXD_CMD.TSE : 0) | (last ? TXD_CMD.EOP | TXD_CMD.IFCS | TXD_CMD.RS : 0);
    out.push({ addr: d.put(part), lower: (cmd << 24) | (TXD.DTYP_DATA << 20) | part.length, upper: popts << 8 });
  }
  return out;
}

/** What e1000_tso loads for IPv4 TCP with a 20-byte TCP header and MSS 1448. */
const TSO_CTX = { ipcss: 14, ipcso: 24, ipcse: 33, tucss: 34, tucso: 50, hdrLen: 54, mss: 1448 } as const;
const TSO_CMD = TUCMD.TCP | TUCMD.IP | TUCMD.TSE;

function setup() {
  const d = new MockE1000Driver().probe();
  d.setupTx(64);
  return d;
}

describe("e1000 TCP segmentation offload", () => {
  test("a 10000-byte TSO send with MSS 1448 becomes 7 segments with correct lengths, ids, sequence numbers, flags and checksums", () => {
    const d = setup();
    const payload = pattern(10_000);
    const seq0 = 0xffff_f000; // wraps during the send
    const f = tcpFrame(payload, seq0, TCP_ACK | TCP_PSH | TCP_FIN, 0xfffe);
    // What e1000_tso prepares: IP total length and checksum 0, TCP checksum = pseudo header without length.
    set16(f, 16, 0);
    set16(f, 50, csum(pseudo(6, 0)));
    d.queue(contextDesc({ ...TSO_CTX, tucmd: TSO_CMD, paylen: 10_000 }));
    const descs = dataDescs(d, f, [54, 54 + 4096, 54 + 8192], TXD.POPTS_TXSM | TXD.POPTS_IXSM, true);
    for (const x of descs) d.queue(x);
    d.kick();

    const sent = d.backend.sent;
    assert.equal(sent.length, 7);
    let off = 0;
    sent.forEach((s, i) => {
      const chunk = Math.min(1448, 10_000 - off);
      const last = i === 6;
      assert.equal(s.length, 54 + chunk, `segment ${i} length`);
      assert.deepEqual(Array.from(s.subarray(0, 12)), [...PEER, ...NIC_MAC]);
      assert.equal(u16(s, 16), 40 + chunk, "IP total length");
      assert.equal(u16(s, 18), (0xfffe + i) & 0xffff, "IP id advances and wraps");
      assert.ok(ipOk(s), `IP checksum of segment ${i}`);
      assert.equal(u32(s, 38), (seq0 + off) >>> 0, "sequence number");
      assert.equal(s[47]! & (TCP_PSH | TCP_FIN), last ? TCP_PSH | TCP_FIN : 0, "PSH/FIN only on the last");
      assert.equal(s[47]! & TCP_ACK, TCP_ACK);
      assert.ok(l4Ok(s, 6), `TCP checksum of segment ${i}`);
      assert.deepEqual(s.subarray(54), payload.subarray(off, off + chunk));
      off += chunk;
    });
    assert.equal(off, 10_000);
    assert.equal(d.txStatus(descs.length) & TXD.STA_DD, TXD.STA_DD, "DD on the EOP descriptor");
    assert.equal(d.nic.stats.txTsoPackets, 1);
    assert.equal(d.nic.stats.txSegments, 7);
    assert.equal(d.r32(STAT.TSCTC), 1);
    assert.equal(d.r32(STAT.GPTC), 7);
  });

  test("a payload that fits one MSS is sent as one frame; a TSO context with MSS 0 or headers outside HDRLEN is dropped", () => {
    const d = setup();
    const f = tcpFrame(pattern(100), 1, TCP_ACK | TCP_PSH);
    set16(f, 16, 0);
    set16(f, 50, csum(pseudo(6, 0)));
    const ctx = { ...TSO_CTX, tucmd: TSO_CMD, paylen: 100 };
    d.queue(contextDesc(ctx));
    for (const x of dataDescs(d, f, [54], TXD.POPTS_TXSM | TXD.POPTS_IXSM, true)) d.queue(x);
    d.queue(contextDesc({ ...ctx, mss: 0 }));
    for (const x of dataDescs(d, f, [], TXD.POPTS_TXSM, true)) d.queue(x);
    d.queue(contextDesc({ ...ctx, tucss: 50 }));
    for (const x of dataDescs(d, f, [], TXD.POPTS_TXSM, true)) d.queue(x);
    d.kick();
    assert.equal(d.backend.sent.length, 1);
    const s = d.backend.sent[0]!;
    assert.equal(u16(s, 16), 140);
    assert.equal(s[47]! & TCP_PSH, TCP_PSH);
    assert.ok(ipOk(s) && l4Ok(s, 6));
    assert.equal(d.nic.stats.txDropped, 2);
    assert.equal(d.r32(STAT.TSCTFC), 2);
    assert.equal(d.r32(REG.TDH), d.txTail, "every descriptor consumed");
  });
});

describe("e1000 checksum offload", () => {
  test("TXSM inserts the TCP checksum and IXSM the IP header checksum (context descriptor)", () => {
    const d = setup();
    const f = tcpFrame(pattern(999), 42, TCP_ACK);
    // CHECKSUM_PARTIAL: the stack leaves the pseudo-header sum (with length) in the TCP checksum field.
    set16(f, 50, csum(pseudo(6, 20 + 999)));
    d.queue(contextDesc({ ipcss: 14, ipcso: 24, ipcse: 33, tucss: 34, tucso: 50, tucmd: TUCMD.TCP }));
    for (const x of dataDescs(d, f, [60], TXD.POPTS_TXSM | TXD.POPTS_IXSM, false)) d.queue(x);
    d.kick();
    const s = d.backend.sent[0]!;
    assert.equal(s.length, f.length);
    assert.ok(ipOk(s), "IP header checksum");
    assert.ok(l4Ok(s, 6), "TCP checksum");
    assert.deepEqual(s.subarray(54), f.subarray(54));
  });

  test("UDP checksum through the context; POPTS of later descriptors are ignored", () => {
    const d = setup();
    const udp = new Uint8Array(28 + 33);
    udp.set([0x45, 0, 0, udp.length, 0, 1, 0, 0, 64, 17, 0, 0, ...SRC_IP, ...DST_IP], 0);
    udp.set([0x13, 0x88, 0x13, 0x89, 0, 8 + 33, 0, 0], 20);
    udp.set(pattern(33), 28);
    const f = ethFrame(PEER, NIC_MAC, 0x0800, udp);
    set16(f, 24, 0xffff - csum(words(f, 14, 34)));
    set16(f, 40, csum(pseudo(17, 8 + 33)));
    d.queue(contextDesc({ tucss: 34, tucso: 40, tucmd: 0 }));
    const descs = dataDescs(d, f, [20], TXD.POPTS_TXSM, false);
    descs[1]!.upper = 0; // only the first descriptor's POPTS count
    for (const x of descs) d.queue(x);
    d.kick();
    const s = d.backend.sent[0]!;
    assert.ok(ipOk(s));
    assert.notEqual(u16(s, 40), 0);
    assert.ok(l4Ok(s, 17), "UDP checksum");
  });

  test("legacy IC inserts a checksum from CSS to the end at CSO (taken from the first descriptor)", () => {
    const d = setup();
    const f = tcpFrame(pattern(300), 7, TCP_ACK);
    set16(f, 24, 0xffff - csum(words(f, 14, 34)));
    set16(f, 50, csum(pseudo(6, 320)));
    const a = f.subarray(0, 100);
    const b = f.subarray(100);
    d.queue({ addr: d.put(a), lower: ((TXD_CMD.IFCS | TXD_CMD.IC) << 24) | (50 << 16) | a.length, upper: 34 << 8 });
    d.queue({ addr: d.put(b), lower: ((TXD_CMD.EOP | TXD_CMD.IFCS | TXD_CMD.RS) << 24) | b.length, upper: 0 });
    d.kick();
    assert.ok(l4Ok(d.backend.sent[0]!, 6));
  });
});

describe("e1000 transmit framing", () => {
  test("short frames are padded to 60 bytes with TCTL.PSP; VLE inserts an 802.1Q tag when CTRL.VME is set", () => {
    const d = setup();
    const arp = ethFrame(PEER, NIC_MAC, 0x0806, 28);
    d.queue(d.legacy(arp));
    d.kick();
    assert.equal(d.backend.sent[0]!.length, 60);
    assert.deepEqual(d.backend.sent[0]!.subarray(0, 42), arp);
    assert.ok(d.backend.sent[0]!.subarray(42).every((x) => x === 0));

    d.w32(REG.CTRL, d.r32(REG.CTRL) | CTRL.VME);
    const ip = ethFrame(PEER, NIC_MAC, 0x0800, 100);
    const desc = d.legacy(ip, TXD_CMD.EOP | TXD_CMD.IFCS | TXD_CMD.RS | TXD_CMD.VLE);
    desc.upper = 0x2123 << 16;
    d.queue(desc);
    d.kick();
    const t = d.backend.sent[1]!;
    assert.equal(t.length, ip.length + 4);
    assert.deepEqual(Array.from(t.subarray(12, 16)), [0x81, 0x00, 0x21, 0x23]);
    assert.deepEqual(t.subarray(16), ip.subarray(12));
  });
});
