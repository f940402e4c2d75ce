/**
 * The page's two live feeds, opened once and shared by every view: metrics (one frame a
 * second with every running VM) with a few minutes of history per VM, so a VM's charts
 * are full the moment its page opens; and events (state changes, settings, the
 * autoscaler's decisions), backfilled from GET /events then followed over the socket.
 */
import type { Api, ApiEvent, MetricsFrame, VmMetrics } from "./api.js";
import { LiveSocket, type SocketState } from "./socket.js";

/** Seconds of metrics kept per VM (the charts' window). */
export const HISTORY_SECONDS = 300;
/** Events kept in the page (the daemon keeps 1000). */
const EVENTS_KEPT = 1000;

/** Column-wise samples, the layout uPlot draws from. */
export interface History {
  t: number[];
  cpuPct: (number | null)[];
  entitlementPct: (number | null)[];
  stealPct: (number | null)[];
  weight: (number | null)[];
  ramMiB: (number | null)[];
  balloonMiB: (number | null)[];
  availableMiB: (number | null)[];
}

const MiB = 1024 * 1024;
const toMiB = (b: number | null | undefined): number | null => (typeof b === "number" && Number.isFinite(b) ? b / MiB : null);

function emptyHistory(): History {
  return { t: [], cpuPct: [], entitlementPct: [], stealPct: [], weight: [], ramMiB: [], balloonMiB: [], availableMiB: [] };
}

/** Seconds since the epoch, from the API's `at` (ms number or ISO string). */
export function seconds(at: number | string): number {
  const ms = typeof at === "number" ? at : Date.parse(at);
  return Number.isFinite(ms) ? ms / 1000 : Date.now() / 1000;
}

export type Listener<T> = (value: T) => void;

class Emitter<T> {
  private readonly listeners = new Set<Listener<T>>();
  on(fn: Listener<T>): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  emit(v: T): void {
    for (const fn of this.listeners) fn(v);
  }
}

export class MetricsFeed {
  readonly latest = new Map<string, VmMetrics>();
  readonly history = new Map<string, History>();
  readonly frames = new Emitter<MetricsFrame>();
  readonly status = new Emitter<SocketState>();
  state: SocketState = "connecting";
  private readonly socket: LiveSocket;

  constructor(api: Api) {
    this.socket = new LiveSocket({
      url: () => api.wsUrl("/metrics"),
      onMessage: (data) => {
        if (typeof data !== "string") return;
        this.take(JSON.parse(data) as MetricsFrame);
      },
      onState: (s) => {
        this.state = s;
        this.status.emit(s);
      },
    });
  }

  private take(frame: MetricsFrame): void {
    const present = new Set<string>();
    for (const m of frame.vms) {
      present.add(m.vm);
      this.latest.set(m.vm, m);
      let h = this.history.get(m.vm);
      if (h === undefined) this.history.set(m.vm, (h = emptyHistory()));
      h.t.push(seconds(m.at ?? frame.at));
      h.cpuPct.push(m.cpuPct);
      h.entitlementPct.push(m.entitlementPct);
      h.stealPct.push(m.stealPct);
      h.weight.push(m.weight);
      h.ramMiB.push(toMiB(m.ramBytes));
      h.balloonMiB.push(toMiB(m.balloonBytes));
      h.availableMiB.push(toMiB(m.availableBytes));
      trim(h);
    }
    // A VM missing from a frame is not running: its last figures are history, not now.
    for (const name of [...this.latest.keys()]) if (!present.has(name)) this.latest.delete(name);
    this.frames.emit(frame);
  }

  close(): void {
    this.socket.close();
  }
}

function trim(h: History): void {
  const cut = h.t.length - HISTORY_SECONDS;
  if (cut <= 0) return;
  for (const col of Object.values(h) as unknown[][]) col.splice(0, cut);
}

export class EventFeed {
  readonly events: ApiEvent[] = [];
  readonly added = new Emitter<ApiEvent>();
  private lastSeq = -1;
  private readonly seen = new Set<number>();
  private readonly socket: LiveSocket;

  constructor(private readonly api: Api) {
    this.socket = new LiveSocket({
      url: () => api.wsUrl("/events"),
      // Each (re)connection backfills what was missed while the socket was down.
      onOpen: () => void this.backfill(),
      onMessage: (data) => {
        if (typeof data === "string") this.take(JSON.parse(data) as ApiEvent);
      },
    });
    // The history is there even while the socket cannot connect.
    void this.backfill();
  }

  private async backfill(): Promise<void> {
    try {
      const since = this.lastSeq >= 0 ? `?since=${this.lastSeq}` : "";
      const list = await this.api.get<ApiEvent[]>(`/events${since}`);
      for (const e of list.sort((a, b) => a.seq - b.seq)) this.take(e);
    } catch {
      /* the socket still brings new events; a 401 has already sent the page to the token form */
    }
  }

  private take(e: ApiEvent): void {
    // The backfill and the socket can deliver the same event, and in either order.
    if (this.seen.has(e.seq)) return;
    this.seen.add(e.seq);
    this.lastSeq = Math.max(this.lastSeq, e.seq);
    let i = this.events.length;
    while (i > 0 && this.events[i - 1]!.seq > e.seq) i--;
    this.events.splice(i, 0, e);
    if (this.events.length > EVENTS_KEPT) {
      for (const old of this.events.splice(0, this.events.length - EVENTS_KEPT)) this.seen.delete(old.seq);
    }
    this.added.emit(e);
  }

  close(): void {
    this.socket.close();
  }
}
