/**
 * virtio-console (virtio 1.2 §5.3, device id 3). Port 0 is the console (Linux's `hvc0`);
 * named ports are optional and come with VIRTIO_CONSOLE_F_MULTIPORT.
 *
 * Without named ports no feature bit is offered and the device is what it always was:
 * queue 0 receiveq0, queue 1 transmitq0, config present, zero, read-only.
 *
 * With named ports (§5.3.6.1 "Multiport Device Operation") the device offers MULTIPORT,
 * config.max_nr_ports = 1 + named ports, and the queues Linux's init_vqs expects:
 *     0 receiveq0, 1 transmitq0, 2 control receiveq, 3 control transmitq,
 *     2+2p receiveq(p), 3+2p transmitq(p) for port p ≥ 1.
 * The handshake, driven by the driver's control messages:
 *     driver DEVICE_READY(1)    → device PORT_ADD(p) for every port
 *     driver PORT_READY(0, 1)   → device CONSOLE_PORT(0, 1), PORT_OPEN(0, 1)   (hvc0 as before)
 *     driver PORT_READY(p, 1)   → device PORT_NAME(p, name), PORT_OPEN(p, 1)   (/dev/vport0p<p>)
 *     driver PORT_OPEN(p, v)    → the guest opened (1) or closed (0) the port: `guestOpen(p)`
 * A driver that does not accept MULTIPORT gets the single-port device (port 0 only).
 *
 * The guest is hostile: a short or unknown control message, a port id out of range, or a
 * storm of DEVICE_READY is counted (`badControl`, `droppedControl`) and otherwise ignored;
 * control messages waiting for buffers are bounded by CONTROL_BACKLOG.
 */
import type { GuestRam } from "../../../mem/ram.js";
import type { DeviceState } from "../../device.js";
import { StateReader, toBase64 } from "../../state.js";
import { copyFromSegments, copyToSegments, type VirtQueue } from "../queue.js";
import { bit, VIRTIO_ID, type VirtioDevice } from "../virtio.js";
import { CONSOLE_PORT_LIMITS, ConsolePort, type CharBackend } from "./port.js";

export type { CharBackend } from "./port.js";

export const VIRTIO_CONSOLE = {
  RECEIVEQ: 0,
  TRANSMITQ: 1,
  CONTROL_RECEIVEQ: 2,
  CONTROL_TRANSMITQ: 3,
  QUEUE_SIZE: 64,
  /** struct virtio_console_config: cols u16, rows u16, max_nr_ports u32, emerg_wr u32. */
  CONFIG_SIZE: 12,
  CONFIG_MAX_NR_PORTS: 4,
  /** Most ports Linux accepts (VIRTCONS_MAX_PORTS). */
  MAX_PORTS: 0x8000,
  INPUT_LIMIT: CONSOLE_PORT_LIMITS.INPUT_LIMIT,
  TX_LIMIT: CONSOLE_PORT_LIMITS.TX_LIMIT,
  /** struct virtio_console_control: id u32, event u16, value u16. */
  CONTROL_SIZE: 8,
  /** Most device→driver control messages held while the driver posts no buffers. */
  CONTROL_BACKLOG: 256,
  /** Longest port name sent (bytes of UTF-8). */
  NAME_MAX: 255,
} as const;

/** Feature bits (§5.3.3). */
export const VIRTIO_CONSOLE_F = { SIZE: 0, MULTIPORT: 1, EMERG_WRITE: 2 } as const;

/** Control events (§5.3.6.2; Linux include/uapi/linux/virtio_console.h). */
export const CONSOLE_CTL = {
  DEVICE_READY: 0,
  PORT_ADD: 1,
  PORT_REMOVE: 2,
  PORT_READY: 3,
  CONSOLE_PORT: 4,
  RESIZE: 5,
  PORT_OPEN: 6,
  PORT_NAME: 7,
  /** The id of messages about the device, not a port. */
  BAD_ID: 0xffff_ffff,
} as const;

/** A port other than the console: a name the guest finds in /sys/class/virtio-ports/. */
export interface NamedPort {
  readonly name: string;
  readonly backend: CharBackend;
}

export interface ConsoleOptions {
  /** Ports 1.. in order; none (default): a single-port device with no features. */
  readonly ports?: readonly NamedPort[];
}

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID.CONSOLE;
  readonly features: bigint;
  readonly queueSizes: readonly number[];
  readonly config = new Uint8Array(VIRTIO_CONSOLE.CONFIG_SIZE);
  /** Control messages from the driver that made no sense (short, unknown, bad port). */
  badControl = 0;
  /** Device→driver control messages dropped: backlog full, or a buffer too small. */
  droppedControl = 0;
  private readonly ports: ConsolePort[];
  private readonly names: Uint8Array[];
  private readonly open: boolean[];
  private multiport = false;
  private mem: GuestRam | null = null;
  private cin: VirtQueue | null = null;
  private cout: VirtQueue | null = null;
  private notifyGuest: () => void = () => {};
  private backlog: Uint8Array[] = [];

  constructor(backend: CharBackend, options: ConsoleOptions = {}) {
    const named = options.ports ?? [];
    if (named.length + 1 > VIRTIO_CONSOLE.MAX_PORTS) throw new RangeError(`virtio-console: at most ${VIRTIO_CONSOLE.MAX_PORTS - 1} named ports`);
    const enc = new TextEncoder();
    this.ports = [new ConsolePort(backend), ...named.map((p) => new ConsolePort(p.backend))];
    this.names = [new Uint8Array(0), ...named.map((p) => enc.encode(p.name).subarray(0, VIRTIO_CONSOLE.NAME_MAX))];
    this.open = this.ports.map(() => false);
    const n = this.ports.length;
    this.features = n > 1 ? bit(VIRTIO_CONSOLE_F.MULTIPORT) : 0n;
    this.queueSizes = new Array<number>(n > 1 ? 2 * (n + 1) : 2).fill(VIRTIO_CONSOLE.QUEUE_SIZE);
    if (n > 1) new DataView(this.config.buffer).setUint32(VIRTIO_CONSOLE.CONFIG_MAX_NR_PORTS, n, true);
  }

  /** Bytes of host input waiting for port 0's receive buffers. */
  get pendingInput(): number {
    return this.ports[0]!.pendingInput;
  }

  /** Port 0's input bytes dropped because its buffer was full. */
  get droppedInput(): number {
    return this.ports[0]!.droppedInput;
  }

  /** Whether the guest has port `p` open (PORT_OPEN from the driver); port 0 once hvc0 exists. */
  guestOpen(p: number): boolean {
    return this.open[p] === true;
  }

  activate(mem: GuestRam, queues: readonly (VirtQueue | null)[], notifyGuest: () => void, acked: bigint = 0n): void {
    this.mem = mem;
    this.notifyGuest = notifyGuest;
    this.multiport = this.ports.length > 1 && (acked & bit(VIRTIO_CONSOLE_F.MULTIPORT)) !== 0n;
    this.ports[0]!.attach(mem, queues[VIRTIO_CONSOLE.RECEIVEQ] ?? null, queues[VIRTIO_CONSOLE.TRANSMITQ] ?? null, notifyGuest);
    if (!this.multiport) return;
    this.cin = queues[VIRTIO_CONSOLE.CONTROL_RECEIVEQ] ?? null;
    this.cout = queues[VIRTIO_CONSOLE.CONTROL_TRANSMITQ] ?? null;
    for (let p = 1; p < this.ports.length; p++) {
      this.ports[p]!.attach(mem, queues[2 + 2 * p] ?? null, queues[3 + 2 * p] ?? null, notifyGuest);
    }
  }

  onQueueNotify(queue: number): void {
    if (queue === VIRTIO_CONSOLE.TRANSMITQ) this.ports[0]!.transmit();
    else if (queue === VIRTIO_CONSOLE.RECEIVEQ) this.ports[0]!.deliver();
    else if (!this.multiport) return;
    else if (queue === VIRTIO_CONSOLE.CONTROL_TRANSMITQ) this.control();
    else if (queue === VIRTIO_CONSOLE.CONTROL_RECEIVEQ) this.flushControl();
    else {
      const port = this.ports[(queue >> 1) - 1];
      if (!port) return;
      if (queue & 1) port.transmit();
      else port.deliver();
    }
  }

  /** Host input survives a device reset, as unread input stays in a terminal. */
  reset(): void {
    for (const p of this.ports) p.detach();
    this.mem = null;
    this.cin = null;
    this.cout = null;
    this.multiport = false;
    this.notifyGuest = () => {};
    this.backlog = [];
    this.open.fill(false);
  }

  /**
   * Snapshot: which ports the guest has open, whether the driver took MULTIPORT, control
   * messages waiting for buffers, each port's pending host input, the counters. The ports
   * themselves (names, backends) are configuration: the restoring machine must have the
   * same number (checked).
   */
  saveDevice(): DeviceState {
    return {
      ports: this.ports.length,
      multiport: this.multiport,
      open: [...this.open],
      backlog: this.backlog.map(toBase64),
      input: this.ports.map((p) => toBase64(p.savedInput())),
      droppedInput: this.ports.map((p) => p.droppedInput),
      badControl: this.badControl,
      droppedControl: this.droppedControl,
    };
  }

  /** Called after activate (when the driver was live): `multiport` must match what it negotiated. */
  loadDevice(s: DeviceState): void {
    const r: StateReader = StateReader.of(s, "virtio-console");
    const n = this.ports.length;
    const ports = r.int("ports", 1, VIRTIO_CONSOLE.MAX_PORTS);
    if (ports !== n) r.fail("ports", `${ports} ports saved, this console has ${n} (the agent port must be configured as it was)`);
    const multiport = r.bool("multiport");
    if (multiport !== this.multiport) r.fail("multiport", `saved ${multiport}, but the restored driver state negotiated ${this.multiport}`);
    const openRaw = r.array("open", n);
    if (openRaw.length !== n || openRaw.some((v) => typeof v !== "boolean")) r.fail("open", `expected ${n} true/false values`);
    const backlogRaw = r.array("backlog", VIRTIO_CONSOLE.CONTROL_BACKLOG);
    const backlog = backlogRaw.map((_, i) => {
      const b = StateReader.of({ m: backlogRaw[i] }, `${r.where}: backlog[${i}]`).bytes("m", VIRTIO_CONSOLE.CONTROL_SIZE + VIRTIO_CONSOLE.NAME_MAX);
      if (b.length < VIRTIO_CONSOLE.CONTROL_SIZE) r.fail(`backlog[${i}]`, `a control message of ${b.length} bytes`);
      return b;
    });
    if (backlog.length > 0 && !this.multiport) r.fail("backlog", "control messages for a device without MULTIPORT");
    const inputRaw = r.array("input", n);
    if (inputRaw.length !== n) r.fail("input", `expected ${n} entries`);
    const input = inputRaw.map((v, i) => StateReader.of({ b: v }, `${r.where}: input[${i}]`).bytes("b", VIRTIO_CONSOLE.INPUT_LIMIT));
    const dropped = r.array("droppedInput", n);
    if (dropped.length !== n) r.fail("droppedInput", `expected ${n} entries`);
    const droppedN = dropped.map((v, i) => StateReader.of({ c: v }, `${r.where}: droppedInput[${i}]`).count("c"));
    const badControl = r.count("badControl");
    const droppedControl = r.count("droppedControl");
    // Checked: apply.
    for (let p = 0; p < n; p++) {
      this.open[p] = openRaw[p] as boolean;
      this.ports[p]!.restoreInput(input[p]!, droppedN[p]!);
    }
    this.backlog = backlog;
    this.badControl = badControl;
    this.droppedControl = droppedControl;
  }

  /** Read the driver's control messages (§5.3.6.2) and answer them. */
  private control(): void {
    const q = this.cout;
    const mem = this.mem;
    if (!q || !mem) return;
    const msg = new Uint8Array(VIRTIO_CONSOLE.CONTROL_SIZE);
    const view = new DataView(msg.buffer);
    let used = false;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      const got = copyFromSegments(mem, chain.readable, msg);
      q.pushUsed(chain.head, 0);
      used = true;
      if (got < VIRTIO_CONSOLE.CONTROL_SIZE) {
        this.badControl++;
        continue;
      }
      this.handle(view.getUint32(0, true), view.getUint16(4, true), view.getUint16(6, true));
    }
    if (used) this.notifyGuest();
    this.flushControl();
  }

  private handle(id: number, event: number, value: number): void {
    const C = CONSOLE_CTL;
    if (event === C.DEVICE_READY) {
      if (id !== C.BAD_ID || value !== 1) {
        this.badControl++;
        return;
      }
      for (let p = 0; p < this.ports.length; p++) this.send(p, C.PORT_ADD, 0);
      return;
    }
    if (id >= this.ports.length || (event !== C.PORT_READY && event !== C.PORT_OPEN)) {
      this.badControl++;
      return;
    }
    if (event === C.PORT_OPEN) {
      this.open[id] = value !== 0;
      return;
    }
    // PORT_READY(id, 0): the driver could not add the port; nothing to answer.
    if (value === 0) return;
    if (id === 0) this.send(0, C.CONSOLE_PORT, 1);
    else this.send(id, C.PORT_NAME, 0, this.names[id]!);
    this.send(id, C.PORT_OPEN, 1);
  }

  private send(id: number, event: number, value: number, extra?: Uint8Array): void {
    if (this.backlog.length >= VIRTIO_CONSOLE.CONTROL_BACKLOG) {
      this.droppedControl++;
      return;
    }
    const msg = new Uint8Array(VIRTIO_CONSOLE.CONTROL_SIZE + (extra?.length ?? 0));
    const view = new DataView(msg.buffer);
    view.setUint32(0, id, true);
    view.setUint16(4, event, true);
    view.setUint16(6, value, true);
    if (extra) msg.set(extra, VIRTIO_CONSOLE.CONTROL_SIZE);
    this.backlog.push(msg);
  }

  /** Put waiting control messages into the driver's control receive buffers, one each. */
  private flushControl(): void {
    const q = this.cin;
    const mem = this.mem;
    if (!q || !mem) return;
    let used = false;
    while (this.backlog.length > 0) {
      const chain = q.pop();
      if (!chain) break;
      const msg = this.backlog.shift()!;
      if (chain.writableLen < msg.length) {
        // Half a message would be misread: drop it, return the buffer empty.
        this.droppedControl++;
        q.pushUsed(chain.head, 0);
      } else q.pushUsed(chain.head, copyToSegments(mem, chain.writable, msg));
      used = true;
    }
    if (used) this.notifyGuest();
  }
}
