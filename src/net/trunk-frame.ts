/**
 * The message format of a network link (trunk) between two daemons' switches: each
 * WebSocket binary message carries exactly one Ethernet frame behind an 8-byte header that
 * says whether the frame is a whole GSO packet (a `FrameOffload`, offload.ts) and, if so,
 * its offload fields:
 *
 *   offset  size  field
 *   0       1     kind: 0 = a plain frame, 1 = a TCPv4 GSO packet
 *   1       1     reserved, 0
 *   2       2     mss      (big-endian; 0 for a plain frame)
 *   4       2     l4Start  (offset of the TCP header in the frame; 0 for a plain frame)
 *   6       2     hdrLen   (Ethernet through TCP options; 0 for a plain frame)
 *   8       …     the frame, from the destination MAC on (no FCS)
 *
 * One message per frame lets WebSocket's own framing delimit frames (no length field to
 * get wrong), and carrying GSO packets whole means a 64 KiB TCP packet between pv guests
 * on two daemons crosses the link as one message, as it crosses one switch.
 *
 * The far daemon is hostile: `decodeTrunkMessage` never throws; a message that does not
 * hold together comes back as a problem (the link counts it and drops it). Only the shape
 * is checked here; the switch validates the frame itself (and re-derives a GSO packet's
 * headers) on ingress, as for every port.
 */
import type { FrameOffload } from "../devices/virtio/net/offload.js";
import { ETH } from "./switch.js";

export const TRUNK = {
  HEADER: 8,
  KIND_PLAIN: 0,
  KIND_GSO_TCP4: 1,
  /** The largest message a well-behaved peer sends: the header and the largest GSO packet. */
  MAX_MESSAGE: 8 + ETH.MAX_GSO_FRAME,
} as const;

/** Field offsets in the header. */
const AT = { KIND: 0, RESERVED: 1, MSS: 2, L4_START: 4, HDR_LEN: 6 } as const;

const U16_MAX = 0xffff;

/** One message for `frame` (copied behind the header; `gso`: a whole TCPv4 packet). */
export function encodeTrunkMessage(frame: Uint8Array, gso: FrameOffload | null): Uint8Array {
  const msg = new Uint8Array(TRUNK.HEADER + frame.length);
  const v = new DataView(msg.buffer);
  if (gso !== null) {
    // The switch only lets a GSO packet in whose fields fit (an MSS under the MTU, offsets within 64 KiB).
    msg[AT.KIND] = TRUNK.KIND_GSO_TCP4;
    v.setUint16(AT.MSS, gso.mss & U16_MAX);
    v.setUint16(AT.L4_START, gso.l4Start & U16_MAX);
    v.setUint16(AT.HDR_LEN, gso.hdrLen & U16_MAX);
  }
  msg.set(frame, TRUNK.HEADER);
  return msg;
}

export type TrunkDecoded = { readonly frame: Uint8Array; readonly gso: FrameOffload | null } | { readonly problem: string };

/**
 * The frame (a view into `msg`, not a copy: the switch copies on ingress) and its offload,
 * or why the message is not one the link takes.
 */
export function decodeTrunkMessage(msg: Uint8Array): TrunkDecoded {
  if (msg.length < TRUNK.HEADER + ETH.HEADER) return { problem: `short message of ${msg.length} bytes (at least ${TRUNK.HEADER + ETH.HEADER})` };
  if (msg.length > TRUNK.MAX_MESSAGE) return { problem: `oversized message of ${msg.length} bytes (at most ${TRUNK.MAX_MESSAGE})` };
  const v = new DataView(msg.buffer, msg.byteOffset, TRUNK.HEADER);
  const kind = msg[AT.KIND]!;
  if (msg[AT.RESERVED] !== 0) return { problem: `reserved header byte is ${msg[AT.RESERVED]}` };
  const mss = v.getUint16(AT.MSS);
  const l4Start = v.getUint16(AT.L4_START);
  const hdrLen = v.getUint16(AT.HDR_LEN);
  const frame = msg.subarray(TRUNK.HEADER);
  if (kind === TRUNK.KIND_PLAIN) {
    if (mss !== 0 || l4Start !== 0 || hdrLen !== 0) return { problem: "a plain frame with GSO fields set" };
    return { frame, gso: null };
  }
  if (kind !== TRUNK.KIND_GSO_TCP4) return { problem: `unknown message kind ${kind}` };
  // Only the offsets' order and bounds here; checkFrame re-derives the headers on the switch's copy.
  if (mss === 0 || l4Start < ETH.HEADER || hdrLen <= l4Start || hdrLen >= frame.length) {
    return { problem: `GSO header out of bounds (mss ${mss}, l4Start ${l4Start}, hdrLen ${hdrLen}, frame ${frame.length} bytes)` };
  }
  return { frame, gso: { mss, l4Start, hdrLen } };
}
