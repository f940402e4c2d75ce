/**
 * What every virtio device shares, whatever its transport: the device-status bits, the
 * transport feature bits (virtio 1.2 §2.1, §6; Linux `include/uapi/linux/virtio_config.h`)
 * and the interface a device model implements to be wrapped by `VirtioMmioTransport`.
 */
import type { GuestRam } from "../../mem/ram.js";
import type { DeviceState } from "../device.js";
import type { VirtQueue } from "./queue.js";

export const VIRTIO_STATUS = {
  ACKNOWLEDGE: 0x01,
  DRIVER: 0x02,
  DRIVER_OK: 0x04,
  FEATURES_OK: 0x08,
  DEVICE_NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const;

/** Feature bit numbers the transport itself owns (§6 "Reserved Feature Bits"). */
export const VIRTIO_F = {
  RING_INDIRECT_DESC: 28,
  RING_EVENT_IDX: 29,
  VERSION_1: 32,
} as const;

/** Device ids (§5). */
export const VIRTIO_ID = {
  NET: 1,
  BLOCK: 2,
  CONSOLE: 3,
  RNG: 4,
  BALLOON: 5,
} as const;

export const bit = (n: number): bigint => 1n << BigInt(n);

/**
 * A device model behind the transport. DESIGN.md's interface, adapted:
 * - `features` holds the device-type bits only; the transport adds VERSION_1,
 *   RING_INDIRECT_DESC and RING_EVENT_IDX itself and handles them.
 * - `activate` also receives the queues, one per `queueSizes` entry, built by the
 *   transport from the driver's layout (a queue the driver left unused is null).
 *   `notifyGuest()` says "I added used buffers": the transport applies each queue's
 *   notification suppression (event-idx / NO_INTERRUPT) before raising the interrupt.
 * - `ackedFeatures` in activate: the features the driver accepted.
 * - optional `writeConfig` for devices with writable config fields.
 * - optional `saveDevice`/`loadDevice` for snapshots: the device's own state (what it holds
 *   beyond the rings: pending input, chains it popped and holds, config the driver wrote,
 *   counters), as plain JSON-able data. The transport calls `loadDevice` after `activate`
 *   and after the queues got their saved indices (so a chain the device held is re-read
 *   from the restored RAM by its head), and also when the driver had not set the device up.
 *   `loadDevice` checks the whole state first and throws a `StateError` (../state.ts) on a
 *   bad one, applying nothing. A device without the pair has no state of its own.
 */
export interface VirtioDevice {
  readonly deviceId: number;
  readonly features: bigint;
  /** QueueNumMax of each queue; their count is the number of queues. */
  readonly queueSizes: readonly number[];
  /** The device-specific configuration space, read at 0x100 on the MMIO transport. */
  readonly config: Uint8Array;
  activate(
    mem: GuestRam,
    queues: readonly (VirtQueue | null)[],
    notifyGuest: () => void,
    ackedFeatures: bigint,
  ): void;
  onQueueNotify(queue: number): void;
  /** Back to the state before activate: drop queues and anything in flight. */
  reset(): void;
  writeConfig?(offset: number, width: 1 | 2 | 4, value: number): void;
  saveDevice?(): DeviceState;
  loadDevice?(s: DeviceState): void;
}
