/** The interface every device on the bus implements, emulated or virtio transport. */

/** A device's saved state: plain JSON-able data (typed arrays are base64 strings). */
export type DeviceState = Record<string, unknown>;

export interface MmioDevice {
  /** Size of the device's register window in bytes. */
  readonly size: number;
  /** Read `width` bytes at `offset` (the bus splits 8-byte accesses into two 4-byte ones, low half first). */
  read(offset: number, width: 1 | 2 | 4): number;
  write(offset: number, width: 1 | 2 | 4, value: number): void;
  reset(): void;
  save(): DeviceState;
  load(s: DeviceState): void;
}

/** An interrupt wire: a device drives its level; the receiver (PLIC, hart) decides what it means. */
export interface IrqLine {
  set(level: boolean): void;
}
