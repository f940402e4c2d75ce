import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ATA } from "../devices/ata/device.js";
import { ataRegister, clintRegister, CountingDevice, plicRegister, uartRegister } from "./register-exits.js";
import type { MmioDevice } from "../devices/device.js";

describe("register names for per-register exits", () => {
  test("ATA: command block by number, control block's first register is alt status / device control", () => {
    const n = ataRegister(ATA.CMD_OFFSET, ATA.CTL_OFFSET, 0);
    assert.equal(n(0, false), "data");
    assert.equal(n(7, false), "status");
    assert.equal(n(7, true), "command");
    assert.equal(n(1, true), "feature");
    assert.equal(n(ATA.CTL_OFFSET, false), "altstatus", "regression: was counted as ctl-reserved");
    assert.equal(n(ATA.CTL_OFFSET, true), "devctl");
    assert.equal(n(ATA.CTL_OFFSET + 2, false), "ctl-reserved");
    const shifted = ataRegister(0, 0x100, 2);
    assert.equal(shifted(7 << 2, false), "status");
  });

  test("UART, CLINT, PLIC", () => {
    assert.equal(uartRegister(0, true), "THR");
    assert.equal(uartRegister(0, false), "RBR");
    assert.equal(uartRegister(5, false), "LSR");
    assert.equal(clintRegister(4, true), "msip");
    assert.equal(clintRegister(0x4008, true), "mtimecmp");
    assert.equal(clintRegister(0xbff8, false), "mtime");
    assert.equal(plicRegister(0x20_1004, false), "claim");
    assert.equal(plicRegister(0x20_1004, true), "complete");
    assert.equal(plicRegister(0x20_1000, true), "threshold");
    assert.equal(plicRegister(0x2080, true), "enable");
    assert.equal(plicRegister(4, true), "priority");
  });

  test("CountingDevice counts per hart and passes accesses through", () => {
    const seen: string[] = [];
    const inner: MmioDevice = {
      size: 8,
      read: (o) => (seen.push(`r${o}`), 42),
      write: (o, _w, v) => void seen.push(`w${o}=${v}`),
      reset: () => {},
      save: () => ({}),
      load: () => {},
    };
    const cpu = { current: 0 };
    const dev = new CountingDevice(inner, uartRegister, cpu, 2);
    assert.equal(dev.read(5, 1), 42);
    cpu.current = 1;
    dev.write(0, 1, 65);
    dev.write(0, 1, 66);
    assert.deepEqual(seen, ["r5", "w0=65", "w0=66"]);
    const e0: Record<string, number> = {};
    const e1: Record<string, number> = {};
    dev.addExits("uart0", 0, e0);
    dev.addExits("uart0", 1, e1);
    assert.deepEqual(e0, { "mmio.uart0.LSR.read": 1 });
    assert.deepEqual(e1, { "mmio.uart0.THR.write": 2 });
  });
});
