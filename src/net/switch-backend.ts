/**
 * A virtio-net backend that plugs into a `VirtualSwitch` port: frames the guest sends go
 * into the switch (which copies them once); frames the switch delivers go to the device,
 * and the device's "dropped" answer becomes the port's no-buffer drop.
 */
import type { AttachOptions, SwitchPort, VirtualSwitch } from "./switch.js";
import type { NetBackend } from "../devices/virtio/net/device.js";

export class SwitchBackend implements NetBackend {
  readonly port: SwitchPort;
  private rx: ((frame: Uint8Array) => boolean) | null = null;

  constructor(sw: VirtualSwitch, portName: string, opts: AttachOptions = {}) {
    this.port = sw.attach({ deliver: (frame) => (this.rx ? this.rx(frame) : false) }, portName, opts);
  }

  send(frame: Uint8Array): void {
    this.port.send(frame);
  }

  onReceive(cb: (frame: Uint8Array) => boolean): void {
    this.rx = cb;
  }

  /** Unplug from the switch. */
  close(): void {
    this.port.detach();
  }
}
