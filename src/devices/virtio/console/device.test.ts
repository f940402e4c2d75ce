import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GuestRam } from "../../../mem/ram.js";
import { MockDriver } from "../mock-driver.js";
import { VIRTIO_MMIO, VirtioMmioTransport } from "../mmio.js";
import { VIRTIO_STATUS } from "../virtio.js";
import { type CharBackend, CONSOLE_CTL, VIRTIO_CONSOLE, VIRTIO_CONSOLE_F, VirtioConsole } from "./device.js";

class TestBackend implements CharBackend {
  out: number[] = [];
  private cb: ((b: Uint8Array) => void) | null = null;
  write(bytes: Uint8Array): void {
    this.out.push(...bytes);
  }
  onInput(cb: (b: Uint8Array) => void): void {
    this.cb = cb;
  }
  type(s: string): void {
    this.cb?.(new TextEncoder().encode(s));
  }
  get text(): string {
    return new TextDecoder().decode(new Uint8Array(this.out));
  }
}

function setup() {
  const mem = new GuestRam(0x8000_0000, 1 << 20);
  const irq = { level: false, set(l: boolean) { this.level = l; } };
  const backend = new TestBackend();
  const con = new VirtioConsole(backend);
  const dev = new VirtioMmioTransport(con, mem, irq);
  const drv = new MockDriver(mem, dev);
  return { mem, irq, backend, con, dev, drv };
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe("5.3 console device", () => {
  test("5.3.1 device id 3; 5.3.2 receiveq0 and transmitq0; 5.3.4 a 12-byte config", () => {
    const { drv, dev } = setup();
    assert.equal(drv.r(VIRTIO_MMIO.DEVICE_ID), 3);
    for (const q of [0, 1]) {
      drv.w(VIRTIO_MMIO.QUEUE_SEL, q);
      assert.equal(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), VIRTIO_CONSOLE.QUEUE_SIZE);
    }
    drv.w(VIRTIO_MMIO.QUEUE_SEL, 2);
    assert.equal(drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), 0);
    assert.equal(dev.read(VIRTIO_MMIO.CONFIG + 8, 4), 0);
  });

  test("5.3.6 transmitq0 output goes to the backend; the buffer returns at once with length 0", () => {
    const { drv, backend, irq } = setup();
    const [, tx] = drv.bringUp();
    const { head } = tx!.add([{ len: 6, data: enc("hello ") }, { len: 5, data: enc("world") }]);
    drv.notify(1);
    assert.equal(backend.text, "hello world");
    assert.deepEqual(tx!.usedElem(0), { id: head, len: 0 });
    assert.equal(irq.level, true);
  });

  test("5.3.6 host input waits for receive buffers, then fills them across chains", () => {
    const { drv, backend, mem, con } = setup();
    const [rx] = drv.bringUp();
    backend.type("abc");
    backend.type("defgh");
    assert.equal(con.pendingInput, 8);
    const a = rx!.add([{ len: 5, write: true }]);
    const b = rx!.add([{ len: 16, write: true }]);
    drv.notify(0);
    assert.equal(rx!.usedIdx(), 2);
    assert.deepEqual(rx!.usedElem(0), { id: a.head, len: 5 });
    assert.deepEqual(rx!.usedElem(1), { id: b.head, len: 3 });
    assert.equal(dec(mem.readBytes(a.addrs[0]!, 5)), "abcde");
    assert.equal(dec(mem.readBytes(b.addrs[0]!, 3)), "fgh");
    assert.equal(con.pendingInput, 0);
  });

  test("input typed while buffers are posted is delivered at once", () => {
    const { drv, backend, mem, irq } = setup();
    const [rx] = drv.bringUp();
    const a = rx!.add([{ len: 64, write: true }]);
    drv.notify(0);
    assert.equal(rx!.usedIdx(), 0, "no input yet: the buffer stays with the device");
    backend.type("ls\n");
    assert.deepEqual(rx!.usedElem(0), { id: a.head, len: 3 });
    assert.equal(dec(mem.readBytes(a.addrs[0]!, 3)), "ls\n");
    assert.equal(irq.level, true);
  });

  test("input typed before the driver is ready is kept, and survives a device reset", () => {
    const { drv, backend, mem } = setup();
    backend.type("early");
    drv.w(VIRTIO_MMIO.STATUS, 0);
    const [rx] = drv.bringUp();
    const a = rx!.add([{ len: 8, write: true }]);
    drv.notify(0);
    assert.equal(dec(mem.readBytes(a.addrs[0]!, 5)), "early");
  });

  test("input beyond the limit is dropped and counted", () => {
    const { backend, con } = setup();
    backend.type("x".repeat(VIRTIO_CONSOLE.INPUT_LIMIT + 10));
    assert.equal(con.pendingInput, VIRTIO_CONSOLE.INPUT_LIMIT);
    assert.equal(con.droppedInput, 10);
  });

  test("a hostile transmit chain sets DEVICE_NEEDS_RESET and writes nothing", () => {
    const { drv, backend } = setup();
    const [, tx] = drv.bringUp();
    tx!.writeDesc(0, { addr: 0x10, len: 4, flags: 0, next: 0 });
    tx!.publish(0);
    assert.doesNotThrow(() => drv.notify(1));
    assert.notEqual(drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
    assert.equal(backend.out.length, 0);
  });
});

// --- §5.3.6.1 multiport -------------------------------------------------------------

const C = CONSOLE_CTL;

function setupMultiport() {
  const mem = new GuestRam(0x8000_0000, 1 << 20);
  const irq = { level: false, set(l: boolean) { this.level = l; } };
  const consoleBackend = new TestBackend();
  const agent = new TestBackend();
  const con = new VirtioConsole(consoleBackend, { ports: [{ name: "org.paravm.agent", backend: agent }] });
  const dev = new VirtioMmioTransport(con, mem, irq);
  const drv = new MockDriver(mem, dev);
  return { mem, irq, consoleBackend, agent, con, dev, drv };
}

function ctl(id: number, event: number, value: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, id, true);
  v.setUint16(4, event, true);
  v.setUint16(6, value, true);
  return b;
}

/** The control messages the device put into `cin` buffers from used index `from` on. */
function readControl(mem: GuestRam, cin: ReturnType<MockDriver["setupQueue"]>, bufs: number[], from: number) {
  const out: { id: number; event: number; value: number; extra: string }[] = [];
  for (let i = from; i < cin.usedIdx(); i++) {
    const e = cin.usedElem(i);
    const bytes = mem.readBytes(bufs[e.id]!, e.len);
    const v = new DataView(bytes.buffer, bytes.byteOffset);
    out.push({ id: v.getUint32(0, true), event: v.getUint16(4, true), value: v.getUint16(6, true), extra: dec(bytes.subarray(8)) });
  }
  return out;
}

/** Bring the device up as Linux's virtcons_probe does: multiport, control buffers posted, DEVICE_READY. */
function probe(s: ReturnType<typeof setupMultiport>) {
  const qs = s.drv.bringUp();
  const cin = qs[VIRTIO_CONSOLE.CONTROL_RECEIVEQ]!;
  const cout = qs[VIRTIO_CONSOLE.CONTROL_TRANSMITQ]!;
  const bufs: number[] = [];
  for (let i = 0; i < 16; i++) {
    const { head, addrs } = cin.add([{ len: 4096, write: true }]);
    bufs[head] = addrs[0]!;
  }
  s.drv.notify(VIRTIO_CONSOLE.CONTROL_RECEIVEQ);
  const say = (id: number, event: number, value: number): void => {
    cout.add([{ len: 8, data: ctl(id, event, value) }]);
    s.drv.notify(VIRTIO_CONSOLE.CONTROL_TRANSMITQ);
  };
  return { qs, cin, cout, bufs, say };
}

describe("5.3.6.1 multiport console (a named port for the guest agent)", () => {
  test("5.3.3 MULTIPORT offered with max_nr_ports = 2 and six queues; none without named ports", () => {
    const s = setupMultiport();
    assert.equal(s.drv.deviceFeatures() & 0xffn, 1n << BigInt(VIRTIO_CONSOLE_F.MULTIPORT));
    assert.equal(s.dev.read(VIRTIO_MMIO.CONFIG + VIRTIO_CONSOLE.CONFIG_MAX_NR_PORTS, 4), 2);
    for (let q = 0; q < 6; q++) {
      s.drv.w(VIRTIO_MMIO.QUEUE_SEL, q);
      assert.equal(s.drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), VIRTIO_CONSOLE.QUEUE_SIZE, `queue ${q}`);
    }
    s.drv.w(VIRTIO_MMIO.QUEUE_SEL, 6);
    assert.equal(s.drv.r(VIRTIO_MMIO.QUEUE_NUM_MAX), 0);
    assert.equal(setup().drv.deviceFeatures() & 0xffn, 0n);
  });

  test("5.3.6.2 DEVICE_READY → PORT_ADD each port; PORT_READY → CONSOLE_PORT for 0, PORT_NAME for 1; both PORT_OPEN", () => {
    const s = setupMultiport();
    const p = probe(s);
    p.say(C.BAD_ID, C.DEVICE_READY, 1);
    assert.deepEqual(readControl(s.mem, p.cin, p.bufs, 0), [
      { id: 0, event: C.PORT_ADD, value: 0, extra: "" },
      { id: 1, event: C.PORT_ADD, value: 0, extra: "" },
    ]);
    p.say(0, C.PORT_READY, 1);
    p.say(1, C.PORT_READY, 1);
    assert.deepEqual(readControl(s.mem, p.cin, p.bufs, 2), [
      { id: 0, event: C.CONSOLE_PORT, value: 1, extra: "" },
      { id: 0, event: C.PORT_OPEN, value: 1, extra: "" },
      { id: 1, event: C.PORT_NAME, value: 0, extra: "org.paravm.agent" },
      { id: 1, event: C.PORT_OPEN, value: 1, extra: "" },
    ]);
    assert.equal(s.con.guestOpen(1), false);
    p.say(1, C.PORT_OPEN, 1);
    assert.equal(s.con.guestOpen(1), true);
    assert.equal(s.con.badControl, 0);
  });

  test("port 0 stays the console and port 1 carries its own bytes both ways (queues 4 and 5)", () => {
    const s = setupMultiport();
    const p = probe(s);
    const [, tx0] = p.qs;
    const rx1 = p.qs[4]!;
    const tx1 = p.qs[5]!;
    tx0!.add([{ len: 4, data: enc("boot") }]);
    s.drv.notify(1);
    tx1.add([{ len: 9, data: enc("1 ok 0 -\n") }]);
    s.drv.notify(5);
    assert.equal(s.consoleBackend.text, "boot");
    assert.equal(s.agent.text, "1 ok 0 -\n");
    const a = rx1.add([{ len: 32, write: true }]);
    s.drv.notify(4);
    s.agent.type("2 ping\n");
    assert.deepEqual(rx1.usedElem(0), { id: a.head, len: 7 });
    assert.equal(dec(s.mem.readBytes(a.addrs[0]!, 7)), "2 ping\n");
    assert.equal(s.consoleBackend.out.length, 4, "nothing of port 1 reached the console");
  });

  test("a driver without MULTIPORT gets the single-port device: port 0 works, control queues ignored", () => {
    const s = setupMultiport();
    const [, tx] = s.drv.bringUp(0n | (1n << 32n));
    tx!.add([{ len: 2, data: enc("hi") }]);
    s.drv.notify(1);
    assert.doesNotThrow(() => s.drv.notify(3));
    assert.equal(s.consoleBackend.text, "hi");
  });

  test("hostile control messages are counted and ignored: short, unknown event, bad port, DEVICE_READY storms", () => {
    const s = setupMultiport();
    const p = probe(s);
    p.cout.add([{ len: 3, data: new Uint8Array([1, 2, 3]) }]);
    s.drv.notify(VIRTIO_CONSOLE.CONTROL_TRANSMITQ);
    p.say(7, C.PORT_READY, 1);
    p.say(0xffff_fffe, C.PORT_OPEN, 1);
    p.say(1, 0xbeef, 1);
    p.say(0, C.DEVICE_READY, 1);
    assert.equal(s.con.badControl, 5);
    assert.equal(p.cin.usedIdx(), 0, "nothing answered");
    // 1000 DEVICE_READYs: the answers beyond the backlog are dropped, memory stays bounded.
    for (let i = 0; i < 1000; i++) p.say(C.BAD_ID, C.DEVICE_READY, 1);
    assert.ok(s.con.droppedControl > 0);
    assert.equal(s.dev.read(VIRTIO_MMIO.STATUS, 4) & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
  });

  test("hostile agent-port chains: a bad address sets DEVICE_NEEDS_RESET with nothing written; a huge buffer is cut at TX_LIMIT", () => {
    const s = setupMultiport();
    const p = probe(s);
    const tx1 = p.qs[5]!;
    tx1.add([{ len: VIRTIO_CONSOLE.TX_LIMIT + 100, data: new Uint8Array(VIRTIO_CONSOLE.TX_LIMIT + 100).fill(0x41) }]);
    s.drv.notify(5);
    assert.equal(s.agent.out.length, VIRTIO_CONSOLE.TX_LIMIT);
    s.agent.out = [];
    tx1.writeDesc(40, { addr: 0x10, len: 64, flags: 0, next: 0 });
    tx1.publish(40);
    assert.doesNotThrow(() => s.drv.notify(5));
    assert.notEqual(s.drv.status & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
    assert.equal(s.agent.out.length, 0);
    assert.doesNotThrow(() => s.drv.notify(99), "a queue index past the last port is ignored");
  });

  test("a control buffer too small for PORT_NAME drops that message and returns the buffer empty", () => {
    const s = setupMultiport();
    const qs = s.drv.bringUp();
    const cin = qs[2]!;
    const cout = qs[3]!;
    const small = cin.add([{ len: 10, write: true }]);
    s.drv.notify(2);
    cout.add([{ len: 8, data: ctl(1, C.PORT_READY, 1) }]);
    s.drv.notify(3);
    assert.deepEqual(cin.usedElem(0), { id: small.head, len: 0 });
    assert.equal(s.con.droppedControl, 1);
  });
});
