import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GuestRam } from "../../mem/ram.js";
import { HtifDevice, type HtifHost, htifWindows } from "./device.js";

/** A host that records what the device asked for. */
function recorder(memory?: GuestRam) {
  const log = { exits: [] as number[], out: [] as number[], fatal: [] as string[] };
  const host: HtifHost = {
    exit: (code) => void log.exits.push(code),
    putchar: (b) => void log.out.push(b),
    fatal: (m) => void log.fatal.push(m),
    memory,
  };
  return { host, log };
}

/** What the bus does for an `sd`: two 4-byte writes, low half first. */
function sd(dev: { write(o: number, w: 1 | 2 | 4, v: number): void }, offset: number, value: bigint): void {
  dev.write(offset, 4, Number(value & 0xffff_ffffn) | 0);
  dev.write(offset + 4, 4, Number((value >> 32n) & 0xffff_ffffn) | 0);
}

function ld(dev: { read(o: number, w: 1 | 2 | 4): number }, offset: number): bigint {
  const lo = BigInt(dev.read(offset, 4) >>> 0);
  const hi = BigInt(dev.read(offset + 4, 4) >>> 0);
  return (hi << 32n) | lo;
}

const TOHOST = 0;
const FROMHOST = 8;
const putc = (c: number) => (1n << 56n) | (1n << 48n) | BigInt(c);

describe("HTIF exit (device 0, command 0, odd payload)", () => {
  test("tohost = 1 exits with code 0", () => {
    const { host, log } = recorder();
    const dev = new HtifDevice(host);
    sd(dev, TOHOST, 1n);
    assert.deepEqual(log.exits, [0]);
  });

  test("tohost = (code << 1) | 1 exits with code (riscv-tests failure TESTNUM)", () => {
    const { host, log } = recorder();
    const dev = new HtifDevice(host);
    sd(dev, TOHOST, (42n << 1n) | 1n);
    assert.deepEqual(log.exits, [42]);
  });

  test("a large exit payload keeps all 47 bits", () => {
    const { host, log } = recorder();
    const dev = new HtifDevice(host);
    sd(dev, TOHOST, ((1n << 46n) << 1n) | 1n);
    assert.deepEqual(log.exits, [2 ** 46]);
  });

  test("nothing happens until the high half is written", () => {
    const { host, log } = recorder();
    const dev = new HtifDevice(host);
    dev.write(TOHOST, 4, 1);
    assert.deepEqual(log.exits, []);
    assert.equal(ld(dev, TOHOST), 1n, "the low half reads back while pending");
    dev.write(TOHOST + 4, 4, 0);
    assert.deepEqual(log.exits, [0]);
  });

  test("storing zero to tohost is not a command", () => {
    const { host, log } = recorder();
    const dev = new HtifDevice(host);
    sd(dev, TOHOST, 0n);
    assert.deepEqual(log, { exits: [], out: [], fatal: [] });
    assert.equal(dev.commands, 0);
  });
});

describe("HTIF console (device 1)", () => {
  test("putchar writes the byte and answers in fromhost as Spike and QEMU do", () => {
    const { host, log } = recorder();
    const dev = new HtifDevice(host);
    sd(dev, TOHOST, putc(0x41));
    assert.deepEqual(log.out, [0x41]);
    assert.equal(ld(dev, TOHOST), 0n, "the host clears tohost once it took the command");
    assert.equal(ld(dev, FROMHOST), (1n << 56n) | (1n << 48n) | 0x100n | 0x41n);
  });

  test("a program that waits for fromhost and clears it prints a string in order", () => {
    const { host, log } = recorder();
    const dev = new HtifDevice(host);
    for (const ch of new TextEncoder().encode("Hi!\n")) {
      assert.equal(ld(dev, TOHOST), 0n, "tohost is free before each character");
      sd(dev, TOHOST, putc(ch));
      assert.notEqual(ld(dev, FROMHOST), 0n, "fromhost answers each character");
      sd(dev, FROMHOST, 0n);
      assert.equal(ld(dev, FROMHOST), 0n, "guest writes to fromhost are kept");
    }
    assert.equal(new TextDecoder().decode(new Uint8Array(log.out)), "Hi!\n");
  });

  test("putchar through two sw stores (low word, then high word) works", () => {
    const { host, log } = recorder();
    const dev = new HtifDevice(host);
    dev.write(TOHOST, 4, 0x5a);
    dev.write(TOHOST + 4, 4, 0x0101_0000);
    assert.deepEqual(log.out, [0x5a]);
  });

  test("byte and halfword reads see the right bytes of fromhost", () => {
    const { host } = recorder();
    const dev = new HtifDevice(host);
    sd(dev, TOHOST, putc(0x7e));
    assert.equal(dev.read(FROMHOST, 1), 0x7e);
    assert.equal(dev.read(FROMHOST + 1, 1), 0x01);
    assert.equal(dev.read(FROMHOST + 6, 2), 0x0101);
    assert.equal(dev.read(FROMHOST + 7, 1), 0x01);
  });

  test("getchar waits for input; receive() answers it in fromhost", () => {
    const { host } = recorder();
    const dev = new HtifDevice(host);
    assert.equal(dev.receive(0x61), false, "no request pending yet");
    sd(dev, TOHOST, 1n << 56n);
    assert.equal(ld(dev, FROMHOST), 0n, "no answer before input arrives");
    assert.equal(dev.receive(0x61), true);
    assert.equal(ld(dev, FROMHOST), (1n << 56n) | 0x161n);
  });

  test("an unknown device is ignored and answered with an empty payload", () => {
    const { host, log } = recorder();
    const dev = new HtifDevice(host);
    sd(dev, TOHOST, (7n << 56n) | (3n << 48n) | 0x55n);
    assert.deepEqual(log, { exits: [], out: [], fatal: [] });
    assert.equal(ld(dev, FROMHOST), (7n << 56n) | (3n << 48n));
    assert.equal(ld(dev, TOHOST), 0n);
  });
});

describe("HTIF syscalls (device 0, command 0, even payload = magic memory block)", () => {
  const RAM = 0x8000_0000;
  const block = (ram: GuestRam, at: number, words: bigint[]) => {
    const b = new Uint8Array(64);
    const v = new DataView(b.buffer);
    words.forEach((w, i) => v.setBigUint64(i * 8, w, true));
    ram.writeBytes(at, b);
  };
  const word0 = (ram: GuestRam, at: number) => new DataView(ram.readBytes(at, 8).buffer).getBigInt64(0, true);

  test("write(1, buf, len) prints the buffer, returns len in word 0 and sets fromhost = 1", () => {
    const ram = new GuestRam(RAM, 64 * 1024);
    const { host, log } = recorder(ram);
    const dev = new HtifDevice(host);
    ram.writeBytes(RAM + 0x200, new TextEncoder().encode("hello"));
    block(ram, RAM + 0x100, [64n, 1n, BigInt(RAM + 0x200), 5n]);
    sd(dev, TOHOST, BigInt(RAM + 0x100));
    assert.equal(new TextDecoder().decode(new Uint8Array(log.out)), "hello");
    assert.equal(word0(ram, RAM + 0x100), 5n);
    assert.equal(ld(dev, FROMHOST), 1n);
  });

  test("write with a buffer outside RAM returns -EFAULT instead of failing the host", () => {
    const ram = new GuestRam(RAM, 64 * 1024);
    const { host, log } = recorder(ram);
    const dev = new HtifDevice(host);
    block(ram, RAM + 0x100, [64n, 1n, 0x10n, 5n]);
    sd(dev, TOHOST, BigInt(RAM + 0x100));
    assert.equal(word0(ram, RAM + 0x100), -14n);
    assert.deepEqual(log.fatal, []);
  });

  test("exit(93) through the syscall block exits with its argument", () => {
    const ram = new GuestRam(RAM, 64 * 1024);
    const { host, log } = recorder(ram);
    const dev = new HtifDevice(host);
    block(ram, RAM + 0x100, [93n, 7n]);
    sd(dev, TOHOST, BigInt(RAM + 0x100));
    assert.deepEqual(log.exits, [7]);
  });

  test("an unsupported syscall is reported as a fatal error with its number", () => {
    const ram = new GuestRam(RAM, 64 * 1024);
    const { host, log } = recorder(ram);
    const dev = new HtifDevice(host);
    block(ram, RAM + 0x100, [1024n]);
    sd(dev, TOHOST, BigInt(RAM + 0x100));
    assert.equal(log.fatal.length, 1);
    assert.match(log.fatal[0]!, /syscall 1024 is not supported/);
  });

  test("a syscall block outside RAM is a fatal error, not an exception", () => {
    const { host, log } = recorder(new GuestRam(RAM, 64 * 1024));
    const dev = new HtifDevice(host);
    sd(dev, TOHOST, 0x1000n);
    assert.match(log.fatal[0] ?? "", /syscall block at 0x1000 is outside RAM/);
  });
});

describe("HTIF windows on the bus", () => {
  const { host } = recorder();

  test("adjacent tohost/fromhost share one 16-byte window at tohost", () => {
    const { device, windows } = htifWindows(host, 0x8000_1000, 0x8000_1008);
    assert.equal(windows.length, 1);
    assert.equal(windows[0]!.base, 0x8000_1000);
    assert.equal(windows[0]!.device.size, 16);
    assert.equal(device.layout.fromhostOffset, 8);
  });

  test("fromhost just below tohost: one window starting at fromhost", () => {
    const { device, windows } = htifWindows(host, 0x8000_1008, 0x8000_1000);
    assert.equal(windows.length, 1);
    assert.equal(windows[0]!.base, 0x8000_1000);
    assert.deepEqual(device.layout, { tohostOffset: 8, fromhostOffset: 0, size: 16 });
  });

  test("distant fromhost gets its own window that shares the device's state", () => {
    const rec = recorder();
    const { device, windows } = htifWindows(rec.host, 0x8000_1000, 0x8000_2000);
    assert.deepEqual(
      windows.map((w) => [w.base, w.device.size]),
      [
        [0x8000_1000, 8],
        [0x8000_2000, 8],
      ],
    );
    sd(windows[0]!.device, 0, putc(0x42));
    assert.equal(ld(windows[1]!.device, 0), putc(0x42) | 0x100n);
    sd(windows[1]!.device, 0, 0n);
    assert.equal(device.fromhost, 0n);
  });

  test("no fromhost symbol: only tohost is mapped", () => {
    const { windows } = htifWindows(host, 0x8000_1000, undefined);
    assert.deepEqual(
      windows.map((w) => [w.base, w.device.size]),
      [[0x8000_1000, 8]],
    );
  });
});

describe("HTIF state", () => {
  test("save/load round-trips tohost and fromhost; reset clears them", () => {
    const { host } = recorder();
    const a = new HtifDevice(host);
    sd(a, TOHOST, putc(0x33));
    const b = new HtifDevice(host);
    b.load(JSON.parse(JSON.stringify(a.save())) as Record<string, unknown>);
    assert.equal(b.fromhost, a.fromhost);
    b.reset();
    assert.equal(b.fromhost, 0n);
    assert.equal(b.tohost, 0n);
  });
});
