/**
 * The frame a hypervisor sends on behalf of a VM that has just arrived on a new switch
 * port (after a migration or a restore), so that every learning switch on the segment —
 * this daemon's, and through the links every other daemon's — moves the VM's MAC to the
 * port it now sits behind. Without it, a switch that learned the MAC on the old port (or
 * on a link that led there) keeps sending the VM's traffic the wrong way until the entry
 * ages out (300 s) or the VM happens to send something.
 *
 * The frame is a broadcast RARP request (RFC 903: the ARP packet of RFC 826 with ethertype
 * 0x8035 and operation 3, "request reverse") whose sender and target hardware addresses
 * are the VM's MAC and whose protocol addresses are 0.0.0.0: no host answers it and no
 * guest's ARP table changes, yet every switch learns the source MAC. This is the frame
 * QEMU's self-announce sends after a migration, which switches and hypervisors know.
 *
 *   offset  size  field
 *   0       6     destination MAC ff:ff:ff:ff:ff:ff
 *   6       6     source MAC (the VM's)
 *   12      2     ethertype 0x8035 (RARP)
 *   14      2     hardware type 1 (Ethernet)
 *   16      2     protocol type 0x0800 (IPv4)
 *   18      1     hardware address length 6
 *   19      1     protocol address length 4
 *   20      2     operation 3 (reverse request)
 *   22      6     sender hardware address (the VM's MAC)
 *   28      4     sender protocol address 0.0.0.0
 *   32      6     target hardware address (the VM's MAC)
 *   38      4     target protocol address 0.0.0.0
 *   42      18    zero padding to Ethernet's 60-byte minimum (without FCS)
 */

export const RARP = {
  ETHERTYPE: 0x8035,
  HTYPE_ETHERNET: 1,
  PTYPE_IPV4: 0x0800,
  HLEN: 6,
  PLEN: 4,
  OP_REVERSE_REQUEST: 3,
  /** Ethernet's minimum frame without its FCS: shorter frames are padded. */
  FRAME_BYTES: 60,
} as const;

export const ANNOUNCE_DEFAULTS = {
  /**
   * How many times the frame is sent. One frame can be lost exactly when it matters: a
   * link that is still reconnecting, or whose buffer is full from the migration's burst,
   * drops it; a few repeats cover that, and cost a few 60-byte broadcasts.
   */
  COUNT: 3,
  /** Between sends: QEMU's first announce round waits 50 ms too. */
  INTERVAL_MS: 50,
} as const;

const MAC_BYTES = 6;
const AT = { DST: 0, SRC: 6, TYPE: 12, HTYPE: 14, PTYPE: 16, HLEN: 18, PLEN: 19, OP: 20, SHA: 22, SPA: 28, THA: 32, TPA: 38 } as const;

/** The announce frame for `mac` (6 bytes, unicast). */
export function announceFrame(mac: Uint8Array): Uint8Array {
  if (mac.length !== MAC_BYTES) throw new RangeError(`a MAC is ${MAC_BYTES} bytes, got ${mac.length}`);
  if ((mac[0]! & 1) !== 0) throw new RangeError("a VM's MAC is unicast (the multicast bit is set)");
  const f = new Uint8Array(RARP.FRAME_BYTES);
  const v = new DataView(f.buffer);
  f.fill(0xff, AT.DST, AT.DST + MAC_BYTES);
  f.set(mac, AT.SRC);
  v.setUint16(AT.TYPE, RARP.ETHERTYPE);
  v.setUint16(AT.HTYPE, RARP.HTYPE_ETHERNET);
  v.setUint16(AT.PTYPE, RARP.PTYPE_IPV4);
  f[AT.HLEN] = RARP.HLEN;
  f[AT.PLEN] = RARP.PLEN;
  v.setUint16(AT.OP, RARP.OP_REVERSE_REQUEST);
  f.set(mac, AT.SHA);
  // SPA and TPA stay 0.0.0.0; the padding stays zero.
  f.set(mac, AT.THA);
  return f;
}

export interface AnnounceOptions {
  readonly count?: number;
  readonly intervalMs?: number;
}

/**
 * Send `frame` `count` times, `intervalMs` apart, the first at once; `send` says whether
 * it went. Stops early when a send is refused because the port has gone (`gone()`).
 * Resolves to how many were accepted.
 */
export function repeatSend(send: () => boolean, gone: () => boolean, opts: AnnounceOptions = {}): Promise<number> {
  const count = opts.count ?? ANNOUNCE_DEFAULTS.COUNT;
  const interval = opts.intervalMs ?? ANNOUNCE_DEFAULTS.INTERVAL_MS;
  return new Promise((resolve) => {
    let sent = 0;
    let tries = 0;
    const once = (): void => {
      if (gone()) return resolve(sent);
      if (send()) sent++;
      if (++tries >= count) return resolve(sent);
      // Not unref'd: a caller awaiting the announce must see it finish (it holds a stopping process ≤ count × interval).
      setTimeout(once, interval);
    };
    once();
  });
}
