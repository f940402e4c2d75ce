/**
 * virtio-rng (virtio 1.2 §5.4, device id 4): one queue, `requestq`, of device-writable
 * buffers that the device fills with entropy. No feature bits, no config space.
 *
 * Entropy comes from an `EntropySource` (default: the host's `crypto.getRandomValues`,
 * which gives at most 65536 bytes per call, also our limit per request);
 * tests inject their own. Readable segments in a request are ignored (§5.4.6.1: the
 * driver sends none) and the used length is the bytes written.
 */
import { webcrypto } from "node:crypto";
import type { GuestRam } from "../../../mem/ram.js";
import type { DeviceState } from "../../device.js";
import { StateReader } from "../../state.js";
import { copyToSegments, type VirtQueue } from "../queue.js";
import { VIRTIO_ID, type VirtioDevice } from "../virtio.js";

export const VIRTIO_RNG = {
  QUEUE_SIZE: 64,
  /** Most bytes given per request (also getRandomValues' limit per call). */
  CHUNK: 65536,
} as const;

export interface EntropySource {
  /** Fill `buf` with random bytes. */
  fill(buf: Uint8Array): void;
}

export const hostEntropy: EntropySource = {
  fill(buf) {
    webcrypto.getRandomValues(buf);
  },
};

export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID.RNG;
  readonly features = 0n;
  readonly queueSizes = [VIRTIO_RNG.QUEUE_SIZE];
  readonly config = new Uint8Array(0);
  private mem: GuestRam | null = null;
  private queue: VirtQueue | null = null;
  private notifyGuest: () => void = () => {};
  /** Scratch buffer reused across requests. */
  private readonly scratch = new Uint8Array(VIRTIO_RNG.CHUNK);

  constructor(private readonly source: EntropySource = hostEntropy) {}

  activate(mem: GuestRam, queues: readonly (VirtQueue | null)[], notifyGuest: () => void): void {
    this.mem = mem;
    this.queue = queues[0] ?? null;
    this.notifyGuest = notifyGuest;
  }

  onQueueNotify(queue: number): void {
    const q = this.queue;
    const mem = this.mem;
    if (queue !== 0 || !q || !mem) return;
    let used = false;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      // At most one chunk per request: a guest's chain can name gigabytes (overlapping
      // segments), and the used length tells the driver how much it got.
      const piece = this.scratch.subarray(0, Math.min(VIRTIO_RNG.CHUNK, chain.writableLen));
      this.source.fill(piece);
      q.pushUsed(chain.head, copyToSegments(mem, chain.writable, piece));
      used = true;
    }
    if (used) this.notifyGuest();
  }

  /** Nothing of its own: every request is served when the driver notifies. */
  saveDevice(): DeviceState {
    return {};
  }

  loadDevice(s: DeviceState): void {
    StateReader.of(s, "virtio-rng");
  }

  reset(): void {
    this.mem = null;
    this.queue = null;
    this.notifyGuest = () => {};
  }
}
