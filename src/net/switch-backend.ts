/**
 * A virtio-net backend that plugs into a `VirtualSwitch` port: frames the guest sends go
 * into the switch (which copies them once); frames the switch delivers go to the device,
 * and the device's "dropped" answer becomes the port's no-buffer drop.
 */
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

  /** Unplug from the switch. */
  close(): void {
    this.port.detach();
  }
}
