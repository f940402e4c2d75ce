/**
 * One virtio-console port's data path (virtio 1.2 §5.3.6): its receiveq (device-writable
 * buffers the device fills with host input) and its transmitq (device-readable buffers of
 * guest output). Port 0 and every named port of a multiport device use the same code.
 *
 * Output is handed to the `CharBackend` as each transmit buffer arrives: Linux's hvc
 * path spins until the buffer comes back, so it is returned at once (used length 0:
 * the device wrote nothing into it). Host input is buffered (up to INPUT_LIMIT bytes;
 * more is dropped and counted) until the guest posts receive buffers.
 */
import type { GuestRam } from "../../../mem/ram.js";
import { copyFromSegments, copyToSegments, type VirtQueue } from "../queue.js";

export const CONSOLE_PORT_LIMITS = {
  /** Most host input held while the guest posts no receive buffers. */
  INPUT_LIMIT: 1 << 20,
  /** Most bytes taken from one transmit buffer (a chain can name far more than RAM). */
  TX_LIMIT: 1 << 16,
} as const;

/** A host character stream: a terminal, a pipe, a test, the guest agent's client. */
export interface CharBackend {
  write(bytes: Uint8Array): void;
  onInput(cb: (bytes: Uint8Array) => void): void;
}

export class ConsolePort {
  /** Input bytes dropped because the buffer was full. */
  droppedInput = 0;
  private mem: GuestRam | null = null;
  private rx: VirtQueue | null = null;
  private tx: VirtQueue | null = null;
  private notifyGuest: () => void = () => {};
  /** Pending host input: chunks, the first partly consumed from `inputHead`. */
  private input: Uint8Array[] = [];
  private inputHead = 0;
  private inputBytes = 0;

  constructor(private readonly backend: CharBackend) {
    backend.onInput((bytes) => this.receive(bytes));
  }

  /** Bytes of host input waiting for receive buffers. */
  get pendingInput(): number {
    return this.inputBytes;
  }

  /** Pending host input as one byte string (for a snapshot). */
  savedInput(): Uint8Array {
    const out = new Uint8Array(this.inputBytes);
    let at = 0;
    this.input.forEach((c, i) => {
      const part = i === 0 ? c.subarray(this.inputHead) : c;
      out.set(part, at);
      at += part.length;
    });
    return out;
  }

  /** Replace the pending input and the drop counter (a checked snapshot; ≤ INPUT_LIMIT bytes). */
  restoreInput(bytes: Uint8Array, dropped: number): void {
    this.input = bytes.length > 0 ? [bytes] : [];
    this.inputHead = 0;
    this.inputBytes = bytes.length;
    this.droppedInput = dropped;
  }

  attach(mem: GuestRam, rx: VirtQueue | null, tx: VirtQueue | null, notifyGuest: () => void): void {
    this.mem = mem;
    this.rx = rx;
    this.tx = tx;
    this.notifyGuest = notifyGuest;
    this.deliver();
  }

  /** Host input survives a device reset, as unread input stays in a terminal. */
  detach(): void {
    this.mem = null;
    this.rx = null;
    this.tx = null;
    this.notifyGuest = () => {};
  }

  private receive(bytes: Uint8Array): void {
    const room = CONSOLE_PORT_LIMITS.INPUT_LIMIT - this.inputBytes;
    const take = Math.min(room, bytes.length);
    this.droppedInput += bytes.length - take;
    if (take > 0) {
      // Copied: the backend may reuse its buffer.
      this.input.push(bytes.slice(0, take));
      this.inputBytes += take;
    }
    this.deliver();
  }

  /** Move buffered input into the guest's receive buffers, as far as both go. */
  deliver(): void {
    const q = this.rx;
    const mem = this.mem;
    if (!q || !mem) return;
    let used = false;
    // pop() on an empty ring also asks the driver (event-idx) to notify at its next buffer.
    while (this.inputBytes > 0) {
      const chain = q.pop();
      if (!chain) break;
      let written = 0;
      while (this.inputBytes > 0 && written < chain.writableLen) {
        const chunk = this.input[0]!.subarray(this.inputHead);
        const n = copyToSegments(mem, chain.writable, chunk, written);
        written += n;
        this.consume(n);
        if (n === 0) break;
      }
      q.pushUsed(chain.head, written);
      used = true;
    }
    if (used) this.notifyGuest();
  }

  private consume(n: number): void {
    this.inputBytes -= n;
    this.inputHead += n;
    if (this.inputHead >= this.input[0]!.length) {
      this.input.shift();
      this.inputHead = 0;
    }
  }

  transmit(): void {
    const q = this.tx;
    const mem = this.mem;
    if (!q || !mem) return;
    let used = false;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      const out = new Uint8Array(Math.min(chain.readableLen, CONSOLE_PORT_LIMITS.TX_LIMIT));
      copyFromSegments(mem, chain.readable, out);
      if (out.length > 0) this.backend.write(out);
      q.pushUsed(chain.head, 0);
      used = true;
    }
    if (used) this.notifyGuest();
  }
}
