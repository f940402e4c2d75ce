import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FCR, IER, IIR, LCR, LSR, MCR, MSR, UART, Uart16550Device } from "./device.js";

/** An IRQ wire that records its level and every drive. */
class FakeIrq {
  level = false;
  calls: boolean[] = [];
  set(level: boolean): void {
    this.level = level;
    this.calls.push(level);
  }
}

function setup() {
  const irq = new FakeIrq();
  const out: number[] = [];
  const uart = new Uart16550Device(irq, { write: (b) => out.push(...b) });
  return { irq, out, uart };
}

const rd = (u: Uart16550Device, off: number) => u.read(off, 1);
const wr = (u: Uart16550Device, off: number, v: number) => u.write(off, 1, v);
const bytes = (s: string) => new TextEncoder().encode(s);

describe("UART 16550 transmit", () => {
  test("polled tx: THR writes reach the backend at once and THRE/TEMT stay set", () => {
    const { uart, out, irq } = setup();
    assert.equal(rd(uart, UART.LSR) & (LSR.THRE | LSR.TEMT), LSR.THRE | LSR.TEMT);
    for (const b of bytes("hi\n")) {
      while (!(rd(uart, UART.LSR) & LSR.THRE)) { /* OpenSBI-style poll */ }
      wr(uart, UART.THR, b);
    }
    assert.deepEqual(out, [...bytes("hi\n")]);
    assert.equal(irq.level, false);
    assert.equal(rd(uart, UART.IIR), IIR.NO_INT);
  });

  test("THRE interrupt: raised on ETBEI enable, cleared by reading IIR, raised again by each write", () => {
    const { uart, irq } = setup();
    wr(uart, UART.IER, IER.ETBEI);
    assert.equal(irq.level, true);
    assert.equal(rd(uart, UART.IIR), IIR.THRI);
    assert.equal(irq.level, false, "IIR read reporting THRI acknowledges it");
    assert.equal(rd(uart, UART.IIR), IIR.NO_INT);
    wr(uart, UART.THR, 0x41);
    assert.equal(irq.level, true);
    assert.equal(rd(uart, UART.IIR), IIR.THRI);
    // Rewriting IER with ETBEI still set is not a new edge; clearing and re-setting is.
    wr(uart, UART.IER, IER.ETBEI);
    assert.equal(irq.level, false);
    wr(uart, UART.IER, 0);
    wr(uart, UART.IER, IER.ETBEI);
    assert.equal(irq.level, true);
    wr(uart, UART.IER, 0);
    assert.equal(irq.level, false, "disabling ETBEI drops the pending THRE");
  });

  test("Linux's UART_BUG_THRE probe sees the interrupt both times", () => {
    const { uart } = setup();
    wr(uart, UART.IER, IER.ETBEI);
    const iir1 = rd(uart, UART.IIR);
    wr(uart, UART.IER, 0);
    wr(uart, UART.IER, IER.ETBEI);
    const iir2 = rd(uart, UART.IIR);
    wr(uart, UART.IER, 0);
    assert.equal(iir1 & IIR.NO_INT, 0);
    assert.equal(iir2 & IIR.NO_INT, 0);
  });
});

describe("UART 16550 receive", () => {
  test("rx fifo + DR: bytes come out in order and DR clears when empty", () => {
    const { uart } = setup();
    wr(uart, UART.FCR, FCR.ENABLE);
    assert.equal(rd(uart, UART.LSR) & LSR.DR, 0);
    uart.input(bytes("abc"));
    const got: number[] = [];
    while (rd(uart, UART.LSR) & LSR.DR) got.push(rd(uart, UART.RBR));
    assert.deepEqual(got, [...bytes("abc")]);
    assert.equal(rd(uart, UART.RBR), 0x63, "empty RBR repeats the last byte");
  });

  test("FCR: IIR shows 0xC0 with FIFOs on; CLEAR_RX and toggling enable empty the FIFO", () => {
    const { uart } = setup();
    assert.equal(rd(uart, UART.IIR) & IIR.FIFO_ENABLED, 0);
    wr(uart, UART.FCR, FCR.ENABLE);
    assert.equal(rd(uart, UART.IIR), IIR.FIFO_ENABLED | IIR.NO_INT);
    uart.input(bytes("xy"));
    wr(uart, UART.FCR, FCR.ENABLE | FCR.CLEAR_RX);
    assert.equal(rd(uart, UART.LSR) & LSR.DR, 0);
    uart.input(bytes("z"));
    wr(uart, UART.FCR, 0);
    assert.equal(rd(uart, UART.LSR) & LSR.DR, 0);
    assert.equal(rd(uart, UART.IIR) & IIR.FIFO_ENABLED, 0);
  });

  test("rx interrupt + IIR id: trigger level gives RDI, fewer bytes give the timeout id", () => {
    const { uart, irq } = setup();
    wr(uart, UART.FCR, FCR.ENABLE | (2 << FCR.TRIGGER_SHIFT)); // trigger 8
    wr(uart, UART.IER, IER.ERBFI);
    assert.equal(irq.level, false);
    uart.input(bytes("abc"));
    assert.equal(irq.level, true);
    assert.equal(rd(uart, UART.IIR), IIR.FIFO_ENABLED | IIR.TIMEOUT);
    uart.input(bytes("defgh"));
    assert.equal(rd(uart, UART.IIR), IIR.FIFO_ENABLED | IIR.RDI);
    for (let i = 0; i < 8; i++) rd(uart, UART.RBR);
    assert.equal(irq.level, false);
    assert.equal(rd(uart, UART.IIR), IIR.FIFO_ENABLED | IIR.NO_INT);
  });

  test("IIR priorities: line status > rx data > THR empty > modem status", () => {
    const { uart } = setup();
    wr(uart, UART.IER, IER.MASK);
    wr(uart, UART.MCR, MCR.LOOP | MCR.DTR); // DSR change: a modem-status delta
    wr(uart, UART.MCR, 0);
    assert.equal(rd(uart, UART.IIR), IIR.THRI);
    assert.equal(rd(uart, UART.IIR), IIR.MSI);
    rd(uart, UART.MSR);
    assert.equal(rd(uart, UART.IIR), IIR.NO_INT);
    uart.input(bytes("ab")); // 16450 mode: one-byte holding register, second byte overruns
    assert.equal(rd(uart, UART.IIR), IIR.RLSI);
    assert.equal(rd(uart, UART.LSR) & LSR.OE, LSR.OE);
    assert.equal(rd(uart, UART.IIR), IIR.RDI);
    wr(uart, UART.THR, 0x20);
    assert.equal(rd(uart, UART.IIR), IIR.RDI, "rx data outranks THR empty");
    rd(uart, UART.RBR);
    assert.equal(rd(uart, UART.IIR), IIR.THRI);
  });

  test("overrun: a full FIFO drops new bytes, keeps old ones, sets OE until LSR is read", () => {
    const { uart } = setup();
    wr(uart, UART.FCR, FCR.ENABLE);
    const data = Array.from({ length: 20 }, (_, i) => 0x30 + i);
    uart.input(Uint8Array.from(data));
    assert.equal(uart.overruns, 4);
    assert.equal(uart.rxSpace, 0);
    const lsr = rd(uart, UART.LSR);
    assert.equal(lsr & (LSR.OE | LSR.DR), LSR.OE | LSR.DR);
    assert.equal(rd(uart, UART.LSR) & LSR.OE, 0, "LSR read clears OE");
    const got: number[] = [];
    while (rd(uart, UART.LSR) & LSR.DR) got.push(rd(uart, UART.RBR));
    assert.deepEqual(got, data.slice(0, 16));
  });
});

describe("UART 16550 registers", () => {
  test("divisor latch: DLAB switches offsets 0/1 to DLL/DLM without touching IER or THR", () => {
    const { uart, out } = setup();
    wr(uart, UART.IER, IER.ERBFI);
    wr(uart, UART.LCR, LCR.DLAB | 0x03);
    wr(uart, UART.DLL, 0x01);
    wr(uart, UART.DLM, 0x02);
    assert.equal(rd(uart, UART.DLL), 0x01);
    assert.equal(rd(uart, UART.DLM), 0x02);
    wr(uart, UART.LCR, 0x03);
    assert.equal(rd(uart, UART.IER), IER.ERBFI);
    assert.equal(rd(uart, UART.LCR), 0x03);
    assert.deepEqual(out, []);
  });

  test("loopback: THR comes back in RBR, MCR outputs appear as MSR inputs, host input ignored", () => {
    const { uart, out } = setup();
    assert.equal(rd(uart, UART.MSR) & 0xf0, MSR.DCD | MSR.DSR | MSR.CTS);
    // Linux's 8250 autoconfig: MCR = LOOP|OUT2|RTS must read back MSR status 0x90.
    wr(uart, UART.MCR, MCR.LOOP | MCR.OUT2 | MCR.RTS);
    assert.equal(rd(uart, UART.MSR) & 0xf0, MSR.DCD | MSR.CTS);
    wr(uart, UART.MCR, MCR.LOOP | MCR.OUT1 | MCR.DTR);
    assert.equal(rd(uart, UART.MSR) & 0xf0, MSR.RI | MSR.DSR);
    wr(uart, UART.THR, 0x5a);
    uart.input(bytes("q"));
    assert.deepEqual(out, []);
    assert.equal(rd(uart, UART.LSR) & LSR.DR, LSR.DR);
    assert.equal(rd(uart, UART.RBR), 0x5a);
    assert.equal(rd(uart, UART.LSR) & LSR.DR, 0);
    wr(uart, UART.MCR, 0);
    wr(uart, UART.THR, 0x5b);
    assert.deepEqual(out, [0x5b]);
  });

  test("scratch register, unknown offsets and wide accesses never throw", () => {
    const { uart } = setup();
    wr(uart, UART.SCR, 0xa5);
    assert.equal(rd(uart, UART.SCR), 0xa5);
    assert.equal(uart.read(0x80, 4), 0);
    uart.write(0x80, 4, 0xffff_ffff);
    uart.write(UART.LSR, 1, 0);
    uart.write(UART.SCR, 4, 0x1234_5678);
    assert.equal(uart.read(UART.SCR, 4), 0x78);
  });

  test("save/load round trip keeps registers, FIFO contents and pending interrupts", () => {
    const a = setup();
    wr(a.uart, UART.FCR, FCR.ENABLE | (1 << FCR.TRIGGER_SHIFT));
    wr(a.uart, UART.LCR, LCR.DLAB);
    wr(a.uart, UART.DLL, 0x0c);
    wr(a.uart, UART.LCR, 0x03);
    wr(a.uart, UART.IER, IER.ERBFI | IER.ETBEI);
    wr(a.uart, UART.SCR, 0x42);
    a.uart.input(Uint8Array.from({ length: 18 }, (_, i) => i));
    const saved = JSON.parse(JSON.stringify(a.uart.save()));

    const b = setup();
    b.uart.load(saved);
    assert.equal(b.irq.level, true);
    assert.deepEqual(b.uart.save(), saved);
    assert.equal(b.uart.overruns, 2);
    assert.equal(rd(b.uart, UART.IIR), IIR.FIFO_ENABLED | IIR.RDI);
    assert.equal(rd(b.uart, UART.SCR), 0x42);
    const got: number[] = [];
    while (rd(b.uart, UART.LSR) & LSR.DR) got.push(rd(b.uart, UART.RBR));
    assert.deepEqual(got, Array.from({ length: 16 }, (_, i) => i));
    assert.equal(rd(b.uart, UART.IIR), IIR.FIFO_ENABLED | IIR.THRI);

    b.uart.load({ junk: "x", rx: "nope", trigger: 99 });
    assert.equal(rd(b.uart, UART.IIR), IIR.NO_INT);
    b.uart.reset();
    assert.equal(b.irq.level, false);
    assert.equal(rd(b.uart, UART.LSR), LSR.THRE | LSR.TEMT);
  });
});
