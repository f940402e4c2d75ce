/**
 * What a live migration travels over: an ordered, reliable, message-framed link (the
 * control layer gives it a WebSocket between two daemons; tests a pair in one process).
 * Kept this small so the hypervisor does not depend on a transport.
 */

export interface MigrationLink {
  /** Text: a JSON control message (wire.ts Control); binary: pages or a blob. False: the link is closed, nothing was sent. */
  send(msg: string | Uint8Array): boolean;
  /** Bytes given to send() and not yet written out: the sender paces itself on it. */
  bufferedBytes(): number;
  onMessage(cb: (msg: string | Uint8Array) => void): void;
  /** Called once when the link ends, from either side or because the transport broke. */
  onClose(cb: (why: string) => void): void;
  close(why: string): void;
}

/**
 * Two connected links in one process: what one sends the other receives, on a later turn
 * of the event loop (as a socket would deliver it). `cut()` breaks both as a dead peer would.
 */
export function linkPair(): { a: MigrationLink; b: MigrationLink; cut: (why: string) => void } {
  type End = { onMsg: ((m: string | Uint8Array) => void) | null; onClose: ((why: string) => void) | null; closed: boolean; queued: number };
  const ends: [End, End] = [
    { onMsg: null, onClose: null, closed: false, queued: 0 },
    { onMsg: null, onClose: null, closed: false, queued: 0 },
  ];
  const shut = (why: string): void => {
    for (const e of ends) {
      if (e.closed) continue;
      e.closed = true;
      const cb = e.onClose;
      setImmediate(() => cb?.(why));
    }
  };
  const make = (me: number): MigrationLink => {
    const self = ends[me]!;
    const peer = ends[1 - me]!;
    return {
      send(msg) {
        if (self.closed) return false;
        // A copy, as a socket would deliver one: the sender may reuse its buffer.
        const copy = typeof msg === "string" ? msg : msg.slice();
        const n = typeof msg === "string" ? msg.length : msg.length;
        self.queued += n;
        setImmediate(() => {
          self.queued -= n;
          if (!peer.closed) peer.onMsg?.(copy);
        });
        return true;
      },
      bufferedBytes: () => self.queued,
      onMessage(cb) {
        self.onMsg = cb;
      },
      onClose(cb) {
        self.onClose = cb;
      },
      close(why) {
        // Messages already sent still arrive before the close, as on a socket.
        setImmediate(() => shut(why));
      },
    };
  };
  return { a: make(0), b: make(1), cut: shut };
}
