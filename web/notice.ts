/** One line under the header for what just happened: an action's outcome, or the API's refusal. */
import { ApiError } from "./api.js";
import { h, setText } from "./dom.js";

/** How long a success stays on screen; errors stay until the next notice. */
const OK_VISIBLE_MS = 4000;

export const noticeBar = h("div", { class: "notice", id: "notice", role: "status", "aria-live": "polite" });
let timer: number | undefined;

export function notify(text: string, kind: "ok" | "error" = "ok"): void {
  window.clearTimeout(timer);
  noticeBar.className = `notice ${kind}`;
  setText(noticeBar, text);
  if (kind === "ok") timer = window.setTimeout(() => setText(noticeBar, ""), OK_VISIBLE_MS);
}

/** The API's message for a failed action, as a person reads it. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.status > 0 ? `${e.status} ${e.error}: ` : ""}${e.describe()}`;
  return e instanceof Error ? e.message : String(e);
}

export function notifyError(what: string, e: unknown): void {
  notify(`${what}: ${errorText(e)}`, "error");
}
