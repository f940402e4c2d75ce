/**
 * The virtio-mmio transport's saved state, checked whole before the transport applies any
 * of it (mmio.ts `load`). A state from another device, another device configuration (a
 * disk that became read-only: the driver accepted features no longer offered), with a
 * ready queue whose rings lie outside RAM, or with any field of the wrong type is refused
 * with a StateError naming the field.
 */
import type { GuestRam } from "../../mem/ram.js";
import type { DeviceState } from "../device.js";
import { StateError, StateReader } from "../state.js";
import type { QueueRegs } from "./mmio.js";
import { checkLayout } from "./queue.js";
import { bit, VIRTIO_F, VIRTIO_STATUS, type VirtioDevice } from "./virtio.js";

const U32 = 0xffff_ffff;
const U16 = 0xffff;
const TWO32 = 0x1_0000_0000;

/** A ring's positions (VirtQueue.save). */
export interface QueuePositions {
  lastAvail: number;
  usedIdx: number;
  signalledUsed: number;
}

export interface TransportState {
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  driverFeatures: number[];
  driverFeaturesExtra: boolean;
  queueSel: number;
  queueRegs: QueueRegs[];
  queues: (QueuePositions | null)[];
  interruptStatus: number;
  configGeneration: number;
  lastError: string | null;
  /** DRIVER_OK without NEEDS_RESET: the queues are rebuilt and the device activated. */
  live: boolean;
  device: DeviceState;
}

/** Reads and checks `s` for a transport around `device`; throws StateError. */
export function readTransportState(s: DeviceState, device: VirtioDevice, mem: GuestRam, offered: bigint): TransportState {
  const r: StateReader = StateReader.of(s, `virtio device ${device.deviceId}`);
  const id = r.int("deviceId", 0, U32);
  if (id !== device.deviceId) r.fail("deviceId", `a state of virtio device ${id}, this is device ${device.deviceId}`);
  const status = r.int("status", 0, 0xff);
  const driverFeatures = r.ints("driverFeatures", 2, 0, U32, 2);
  const nq = device.queueSizes.length;
  const regsRaw = r.array("queueRegs", nq);
  if (regsRaw.length !== nq) r.fail("queueRegs", `${regsRaw.length} queues, this device has ${nq}`);
  const queueRegs = regsRaw.map((v, i): QueueRegs => {
    const q = StateReader.of(v, `${r.where}: queueRegs[${i}]`);
    return {
      num: q.int("num", 0, U32),
      ready: q.bool("ready"),
      desc: q.ints("desc", 2, 0, U32, 2),
      driver: q.ints("driver", 2, 0, U32, 2),
      device: q.ints("device", 2, 0, U32, 2),
    };
  });
  queueRegs.forEach((q, i) => {
    if (!q.ready) return;
    const layout = {
      size: q.num,
      desc: q.desc[1]! * TWO32 + q.desc[0]!,
      driver: q.driver[1]! * TWO32 + q.driver[0]!,
      device: q.device[1]! * TWO32 + q.device[0]!,
    };
    const why = checkLayout(mem, layout, device.queueSizes[i]!);
    if (why !== null) r.fail(`queueRegs[${i}]`, `a ready queue with an unusable layout: ${why}`);
  });
  const live = (status & VIRTIO_STATUS.DRIVER_OK) !== 0 && (status & VIRTIO_STATUS.DEVICE_NEEDS_RESET) === 0;
  const qsRaw = r.array("queues", nq);
  const queues = queueRegs.map((q, i): QueuePositions | null => {
    const v = qsRaw[i];
    if (v === null || v === undefined) {
      if (live && q.ready) r.fail(`queues[${i}]`, "a ready queue of a live device has no ring positions");
      return null;
    }
    const p = StateReader.of(v, `${r.where}: queues[${i}]`);
    return { lastAvail: p.int("lastAvail", 0, U16), usedIdx: p.int("usedIdx", 0, U16), signalledUsed: p.int("signalledUsed", 0, U16) };
  });
  const extra = r.bool("driverFeaturesExtra");
  if ((status & VIRTIO_STATUS.FEATURES_OK) !== 0) {
    // The driver's features were accepted against what the device offered then; a device
    // built differently now (read-only disk, no offloads) would be driven with features it
    // does not have.
    const f = (BigInt(driverFeatures[1]!) << 32n) | BigInt(driverFeatures[0]!);
    const missing = f & ~offered;
    if (extra || missing !== 0n || (f & bit(VIRTIO_F.VERSION_1)) === 0n) {
      r.fail("driverFeatures", `the driver accepted features 0x${f.toString(16)} but this device offers 0x${offered.toString(16)} (its configuration changed since the snapshot)`);
    }
  }
  const lastError = r.has("lastError") ? r.str("lastError", 4096) : null;
  const dev = r.has("device") ? r.raw("device") : {};
  if (typeof dev !== "object" || dev === null || Array.isArray(dev)) throw new StateError(`${r.where}: device: not an object`);
  return {
    status,
    deviceFeaturesSel: r.int("deviceFeaturesSel", 0, U32),
    driverFeaturesSel: r.int("driverFeaturesSel", 0, U32),
    driverFeatures,
    driverFeaturesExtra: extra,
    queueSel: r.int("queueSel", 0, U32),
    queueRegs,
    queues,
    interruptStatus: r.int("interruptStatus", 0, 3),
    configGeneration: r.int("configGeneration", 0, U32),
    lastError,
    live,
    device: dev as DeviceState,
  };
}
