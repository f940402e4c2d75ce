/**
 * The guest is hostile: random register traffic at every device window of the full
 * machine — PLIC, CLINT, UART, ATA, sifive-test, PCIe config space, the BAR windows, after
 * the guest has also programmed random BARs and DMA rings — never throws in the host, and
 * the machine still runs afterwards. Deterministic (a fixed-seed xorshift), so a failure
 * reproduces.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryBackend } from "../devices/virtio/blk/device.js";
import type { NetBackend } from "../devices/virtio/net/device.js";
import { FullMachine } from "./full.js";

function image(): Uint8Array {
  const b = new Uint8Array(0x1000);
  const v = new DataView(b.buffer);
  v.setBigUint64(0x08, 0x20_0000n, true);
  v.setBigUint64(0x10, 0x1000n, true);
  b.set([0x52, 0x53, 0x43, 0x05], 0x38);
  // code0: an infinite loop (j .), so the hart has something harmless to run.
  v.setUint32(0, 0x0000006f, true);
  return b;
}

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

test("random MMIO traffic on every full-machine device never throws, and the machine still runs", () => {
  const sent: number[] = [];
  const net: NetBackend = { send: (f) => void sent.push(f.length), onReceive: () => {} };
  const m = new FullMachine({
    kernel: image(),
    firmware: Uint8Array.of(0x6f, 0, 0, 0), // j . in M-mode
    memBytes: 64 << 20,
    output: () => {},
    disk: { backend: new MemoryBackend(64 * 512) },
    net: { backend: net, mac: Uint8Array.of(2, 0, 0, 0, 0, 1) },
    maxInsns: 10_000,
  });
  const rnd = xorshift(0x5eed);
  const widths = [1, 2, 4] as const;
  const ramBase = m.ram.base;
  // Values that matter: zero, all ones, small numbers, RAM addresses (DMA rings), random.
  const value = (): number => {
    switch (rnd() % 5) {
      case 0: return 0;
      case 1: return -1;
      case 2: return rnd() % 64;
      case 3: return (ramBase + (rnd() % (64 << 20))) | 0;
      default: return rnd() | 0;
    }
  };
  // Enable the NIC's decoding at some BAR so the window traffic reaches it: command = mem|io|master.
  const ecam = m.bus.regions.find((r) => r.name === "pcie-ecam")!;
  ecam.device.write((1 << 15) + 0x10, 4, 0x4000_0000);
  ecam.device.write((1 << 15) + 0x04, 2, 0x7);
  let accesses = 0;
  for (const r of m.bus.regions) {
    // Dense near the start of each window (where registers are), sparse over the rest.
    for (let i = 0; i < 4000; i++) {
      const span = i % 4 === 0 ? r.size : Math.min(r.size, 0x2_0000);
      const off = rnd() % span;
      const w = widths[rnd() % 3]!;
      const aligned = off - (off % w);
      if (r.name === "test" && aligned === 0) continue; // a power request would end the run
      if (rnd() & 1) r.device.write(aligned, w, value());
      else r.device.read(aligned, w);
      accesses++;
    }
  }
  assert.ok(accesses > 30_000);
  const result = m.run();
  assert.equal(result.stop, "maxInsns", "the harts still run after the storm");
});
