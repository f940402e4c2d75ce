/** The lifecycle buttons of a VM (start, pause/resume, reboot, stop, destroy), for the fleet table and a VM's page. */
import type { Api, VmView } from "./api.js";
import { button, h } from "./dom.js";
import { notify, notifyError } from "./notice.js";

type Verb = "start" | "pause" | "resume" | "reboot" | "stop" | "destroy";

/** Which verbs make sense in which state; the daemon still has the last word (409). */
const ACTIVE_STATES = new Set(["running", "paused", "starting", "booting"]);
function allowed(verb: Verb, state: string): boolean {
  switch (verb) {
    case "start":
      return !ACTIVE_STATES.has(state);
    case "pause":
      return state === "running";
    case "resume":
      return state === "paused";
    case "reboot":
      return state === "running";
    case "stop":
      return ACTIVE_STATES.has(state);
    case "destroy":
      return !ACTIVE_STATES.has(state);
  }
}

const VERBS: readonly Verb[] = ["start", "pause", "resume", "reboot", "stop", "destroy"];

export interface ActionBar {
  el: HTMLElement;
  /** Enable what the state allows. */
  update(state: string): void;
}

/** `after` runs with the VM's new view (null after destroy) once an action succeeded. */
export function actionBar(api: Api, name: string, after: (view: VmView | null) => void): ActionBar {
  const buttons = new Map<Verb, HTMLButtonElement>();
  for (const verb of VERBS) {
    const b = button(verb, () => void run(verb), `act act-${verb}${verb === "destroy" ? " danger" : ""}`);
    b.dataset.verb = verb;
    buttons.set(verb, b);
  }
  async function run(verb: Verb): Promise<void> {
    if (verb === "destroy" && !window.confirm(`Destroy ${name}? Its entry is removed from the daemon.`)) return;
    const b = buttons.get(verb)!;
    b.disabled = true;
    try {
      if (verb === "destroy") {
        await api.del(api.vmPath(name));
        notify(`${name} destroyed`);
        after(null);
      } else {
        const view = await api.post<VmView>(api.vmPath(name, `/${verb}`));
        notify(`${name}: ${verb} → ${view.state}`);
        after(view);
      }
    } catch (e) {
      notifyError(`${verb} ${name}`, e);
    } finally {
      b.disabled = false;
    }
  }
  const el = h("div", { class: "actions" }, ...buttons.values());
  return {
    el,
    update(state: string) {
      for (const [verb, b] of buttons) b.hidden = !allowed(verb, state);
    },
  };
}
