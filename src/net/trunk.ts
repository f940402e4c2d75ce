/**
 * A trunk port: the switch port at this end of a link to another daemon's switch of the
 * same network. What the switch delivers to it goes to the far switch as one message per
 * frame (trunk-frame.ts); what the far side sends comes in through `receive` and enters
 * this switch like any port's frame (copied and validated there, so a hostile peer is held
 * to the rules a hostile guest is).
 *
 * The transport is anything that queues a message and says how much it still holds (a
 * WebSocket in the daemon, a fake in tests), so this file knows nothing of sockets.
 *
 * A slow link must not grow memory without end: past `maxBufferedBytes` queued, frames
 * are refused, which the switch counts as the port's no-buffer drops, as for a guest whose
 * receive queue is full. TCP in the guests then backs off as it would on a congested wire.
 */
import type { FrameOffload } from "../devices/virtio/net/offload.js";
import type { PortStats, SwitchPort, VirtualSwitch } from "./switch.js";
import { decodeTrunkMessage, encodeTrunkMessage } from "./trunk-frame.js";

export const TRUNK_DEFAULTS = {
  /**
   * Bytes a link may hold unsent before it drops: 16 whole 64 KiB GSO packets, far more
   * than a loopback or LAN socket needs to keep its kernel buffer full, and small enough
   * that a stalled peer costs the daemon little.
   */
  MAX_BUFFERED_BYTES: 1024 * 1024,
} as const;

export interface TrunkTransport {
  /** Queue one message for the peer (sent later; the message is not changed afterwards); false: the transport is closing. */
  send(msg: Uint8Array): boolean;
  /** Bytes queued and not yet taken by the kernel. */
  readonly bufferedAmount: number;
}

export interface TrunkOptions {
  readonly maxBufferedBytes?: number;
}

/** What the trunk saw that the switch's counters do not say. */
export interface TrunkStats {
  /** Messages from the peer that were not a frame (counted in the port's malformed drops too). */
  badMessages: number;
  /** Why the last of them was refused. */
  lastProblem: string | null;
}

export class TrunkPort {
  readonly port: SwitchPort;
  readonly stats: TrunkStats = { badMessages: 0, lastProblem: null };
  private readonly maxBuffered: number;

  constructor(
    sw: VirtualSwitch,
    name: string,
    private readonly transport: TrunkTransport,
    opts: TrunkOptions = {},
  ) {
    this.maxBuffered = opts.maxBufferedBytes ?? TRUNK_DEFAULTS.MAX_BUFFERED_BYTES;
    this.port = sw.attach({ deliver: (frame, gso) => this.toPeer(frame, gso) }, name);
  }

  /** A binary message from the peer: one frame into the switch, or a counted drop. Never throws. */
  receive(msg: Uint8Array): void {
    if (!this.port.isAttached) return;
    const d = decodeTrunkMessage(msg);
    if ("problem" in d) {
      this.refuse(d.problem);
      return;
    }
    // The switch copies and validates, and counts a bad frame as this port's malformed drop.
    this.port.send(d.frame, d.gso);
  }

  /** Anything else the peer sent where a frame belongs (a text message): counted, dropped. */
  refuse(problem: string): void {
    this.port.stats.drops.malformed++;
    this.stats.badMessages++;
    this.stats.lastProblem = problem;
  }

  /** Leave the switch: the MACs learned through the link are forgotten at once. */
  close(): void {
    this.port.detach();
  }

  private toPeer(frame: Uint8Array, gso: FrameOffload | null): boolean {
    if (this.transport.bufferedAmount + frame.length > this.maxBuffered) return false;
    return this.transport.send(encodeTrunkMessage(frame, gso));
  }
}

/** Add one port's counters to a running total (a link's totals over its connections). */
export function addPortStats(into: PortStats, from: PortStats): void {
  into.rxFrames += from.rxFrames;
  into.rxBytes += from.rxBytes;
  into.txFrames += from.txFrames;
  into.txBytes += from.txBytes;
  into.drops.malformed += from.drops.malformed;
  into.drops.noBuffer += from.drops.noBuffer;
  into.drops.rateLimited += from.drops.rateLimited;
}
