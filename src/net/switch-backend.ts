/**
 * A virtio-net backend that plugs into a `VirtualSwitch` port: frames the guest sends go
 * into the switch (which copies them once); frames the switch delivers go to the device,
 * and the device's "dropped" answer becomes the port's no-buffer drop.
 *
 * `announce(mac)` is the hypervisor speaking for a VM that has just arrived on this port
 * (announce.ts): every switch on the segment learns where its MAC now is.
 */
import { announceFrame, repeatSend, type AnnounceOptions } from "./announce.js";
import type { AttachOptions, SwitchPort, VirtualSwitch } from "./switch.js";
import type { FrameOffload, NetBackend } from "../devices/virtio/net/device.js";

export class SwitchBackend implements NetBackend {
  readonly port: SwitchPort;
  /** Whole GSO packets cross the switch (each receiver takes or cuts them). */
  readonly gso = true;
  private rx: ((frame: Uint8Array, gso: FrameOffload | null) => boolean) | null = null;

  constructor(sw: VirtualSwitch, portName: string, opts: AttachOptions = {}) {
    this.port = sw.attach({ deliver: (frame, gso) => (this.rx ? this.rx(frame, gso) : false) }, portName, opts);
  }

  send(frame: Uint8Array, gso: FrameOffload | null = null): void {
    this.port.send(frame, gso);
  }

  onReceive(cb: (frame: Uint8Array, gso: FrameOffload | null) => boolean): void {
    this.rx = cb;
  }

  /**
   * Tell the segment that `mac` is behind this port now: a broadcast RARP from the port,
   * sent a few times (announce.ts, ANNOUNCE_DEFAULTS). Resolves to how many the switch took.
   */
  announce(mac: Uint8Array, opts: AnnounceOptions = {}): Promise<number> {
    const frame = announceFrame(mac);
    return repeatSend(() => this.port.send(frame), () => !this.port.isAttached, opts);
  }

  /** Unplug from the switch. */
  close(): void {
    this.port.detach();
  }
}
