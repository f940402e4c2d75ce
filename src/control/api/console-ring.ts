/**
 * A VM's console scroll-back: the last CAPACITY bytes it printed, so a viewer who comes
 * late (a WebSocket, `GET …/console`) sees the screen as it is. A fixed ring: output of
 * any length costs one copy, never a growing buffer.
 */
export const CONSOLE_RING_BYTES = 64 * 1024;

export class ConsoleRing {
  private readonly buf: Buffer;
  /** Where the next byte goes, and how many bytes are held (≤ capacity). */
  private head = 0;
  private size = 0;

  constructor(readonly capacity = CONSOLE_RING_BYTES) {
    this.buf = Buffer.alloc(capacity);
  }

  push(bytes: Uint8Array): void {
    // Only the last `capacity` bytes of a long chunk can survive.
    const src = bytes.length > this.capacity ? bytes.subarray(bytes.length - this.capacity) : bytes;
    const first = Math.min(src.length, this.capacity - this.head);
    this.buf.set(src.subarray(0, first), this.head);
    this.buf.set(src.subarray(first), 0);
    this.head = (this.head + src.length) % this.capacity;
    this.size = Math.min(this.capacity, this.size + src.length);
  }

  /** The last `n` bytes held (all of them by default), oldest first. */
  tail(n = this.size): Buffer {
    const k = Math.max(0, Math.min(n, this.size));
    const start = (this.head - k + this.capacity) % this.capacity;
    if (start + k <= this.capacity) return Buffer.from(this.buf.subarray(start, start + k));
    return Buffer.concat([this.buf.subarray(start), this.buf.subarray(0, (start + k) % this.capacity)]);
  }
}
