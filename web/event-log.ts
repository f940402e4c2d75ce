/**
 * The live log of state changes, settings and the autoscaler's decisions with their
 * reasons, newest first. Every field is shown as text.
 */
import type { ApiEvent } from "./api.js";
import { h } from "./dom.js";
import { bytes, clock } from "./format.js";
import type { EventFeed } from "./live.js";

/** Lines drawn; the feed keeps more. */
const LINES_SHOWN = 200;
/** Fields shown in a line's own words rather than as key=value. */
const CORE_FIELDS = new Set(["seq", "at", "type", "vm", "state", "reason", "resource", "from", "to", "applied"]);
/** A container event's message says all of these already. */
const CONTAINER_FIELDS = new Set(["container", "kind", "message", "exitStatus", "oomKills"]);

/** A created VM's entry, in a few words (the whole entry is on its page). */
function entrySummary(v: unknown): string {
  if (v === null || typeof v !== "object") return show(v);
  const e = v as Record<string, unknown>;
  const mem = typeof e.mem === "number" ? bytes(e.mem) : String(e.mem ?? "");
  const runs = e.exec !== undefined ? "exec" : e.workload !== undefined ? `workload ${show(e.workload)}` : "shell";
  return `${show(e.profile ?? "pv")}, ${show(e.cpus ?? 1)} vCPU, ${mem}, ${runs}`;
}

function show(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** One event as one line of text. */
export function describeEvent(e: ApiEvent): string {
  const parts: string[] = [];
  switch (e.type) {
    case "state":
      parts.push(`→ ${show(e.state)}`);
      break;
    case "decision":
      parts.push(`${show(e.resource)} ${show(e.from)} → ${show(e.to)}${e.applied === false ? " (not applied)" : ""}`);
      break;
    case "container":
      parts.push(show(e.message));
      break;
    default:
      break;
  }
  for (const [k, v] of Object.entries(e)) {
    if (k === "entry") parts.push(entrySummary(v));
    else if (!CORE_FIELDS.has(k) && !(e.type === "container" && CONTAINER_FIELDS.has(k)) && v !== undefined) parts.push(`${k}=${show(v)}`);
  }
  if (e.reason !== undefined && e.reason !== null && e.reason !== "") parts.push(`— ${show(e.reason)}`);
  return parts.join(" ");
}

export interface EventLog {
  el: HTMLElement;
  destroy(): void;
}

/** A log of `feed`'s events, only those of `vm` when given. */
export function eventLog(feed: EventFeed, vm?: string): EventLog {
  const list = h("ol", { class: "event-log", id: vm === undefined ? "event-log" : "vm-event-log" });
  const render = (): void => {
    const shown = feed.events.filter((e) => vm === undefined || e.vm === vm).slice(-LINES_SHOWN).reverse();
    list.replaceChildren(
      ...shown.map((e) =>
        h(
          "li",
          { class: `ev ev-${e.type}`, "data-seq": String(e.seq) },
          h("time", {}, clock(e.at)),
          h("span", { class: "ev-type" }, e.type),
          vm === undefined ? h("span", { class: "ev-vm" }, e.vm ?? "") : null,
          h("span", { class: "ev-text" }, describeEvent(e)),
        ),
      ),
    );
    if (shown.length === 0) list.append(h("li", { class: "empty" }, "No events yet."));
  };
  render();
  const off = feed.added.on((e) => {
    if (vm === undefined || e.vm === vm) render();
  });
  return { el: list, destroy: off };
}
