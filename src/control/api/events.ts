/**
 * The daemon's event log: VM state changes, the autoscaler's decisions with their reasons,
 * what the API did (created, destroyed, settings, snapshot; a restored VM's `created` names
 * its file in `restoredFrom`, a migrated one's where it came from in `migratedFrom`; a clone's `clone` event says it runs with its identity), live
 * migrations (type "migration": `phase` start, round, done, failed at the source, arrived
 * at the destination), and containers (type "container": its
 * `kind` is start, exit, oom, remove, lost or host, its `message` a sentence for people). Numbered from 1 so a client can
 * ask for what it has not seen (`GET /events?since=SEQ`); the last EVENT_LOG_SIZE are kept.
 */
import { EventEmitter } from "node:events";

export const EVENT_LOG_SIZE = 1000;

export type EventType = "state" | "decision" | "created" | "destroyed" | "settings" | "snapshot" | "clone" | "migration" | "container";

export interface VmmEvent {
  readonly seq: number;
  readonly at: number;
  readonly type: EventType;
  readonly vm: string;
  readonly [field: string]: unknown;
}

export class EventLog extends EventEmitter {
  private readonly events: VmmEvent[] = [];
  private seq = 0;

  add(type: EventType, vm: string, fields: Record<string, unknown> = {}, at = Date.now()): VmmEvent {
    const ev: VmmEvent = { ...fields, seq: ++this.seq, at, type, vm };
    this.events.push(ev);
    if (this.events.length > EVENT_LOG_SIZE) this.events.shift();
    this.emit("event", ev);
    return ev;
  }

  /** Events after `since` (all kept ones by default), oldest first. */
  since(since = 0): VmmEvent[] {
    return this.events.filter((e) => e.seq > since);
  }
}
