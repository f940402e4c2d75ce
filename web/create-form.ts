/**
 * The form that creates a VM: the VmEntry fields a person sets by hand (name, profile,
 * cpus, max-cpus, mem, mem-target, and what the guest runs). The daemon checks the entry
 * with the fleet file's code; its problems are listed here as it words them.
 */
import { ApiError, type Api, type VmEntry, type VmView } from "./api.js";
import { button, field, h, input, replace, select } from "./dom.js";
import { sizeForApi } from "./format.js";
import { errorText, notify } from "./notice.js";

/** The fleet file's built-in workloads (src/control/fleet-file.ts WORKLOADS). */
const WORKLOADS = ["cpu-burn", "cpu-waves", "cpu-waves-late", "idle"] as const;
const RUNS = ["a shell", "a command", ...WORKLOADS.map((w) => `workload: ${w}`)] as const;

export function createForm(api: Api, created: (view: VmView) => void): HTMLElement {
  const name = input("name", "", "text", "web-1");
  name.required = true;
  const profile = select("profile", ["pv", "full"], "pv");
  const cpus = input("cpus", "1", "number");
  cpus.min = "1";
  const maxCpus = input("max-cpus", "", "number", "= cpus");
  maxCpus.min = "1";
  const mem = input("mem", "64M", "text", "64M");
  const memTarget = input("mem-target", "", "text", "none (pv)");
  const runs = select("runs", RUNS, RUNS[0]);
  const exec = input("exec", "", "text", "echo hello; sleep 60");
  const start = h("input", { id: "f-start" });
  start.type = "checkbox";
  start.checked = true;
  const problems = h("ul", { class: "problems", id: "create-problems" });
  const submit = button("Create", () => void send(), "primary");
  submit.type = "submit";

  const execField = field("Command (exec)", exec, "runs instead of the shell; the VM stops when it exits");
  const showExec = (): void => {
    execField.hidden = runs.value !== "a command";
  };
  runs.addEventListener("change", showExec);
  showExec();

  const form = h(
    "form",
    { class: "create-form", id: "create-form" },
    h("h2", {}, "New VM"),
    h(
      "div",
      { class: "grid" },
      field("Name", name),
      field("Profile", profile),
      field("vCPUs online", cpus),
      field("vCPUs max", maxCpus, "pv: more can come online later"),
      field("RAM", mem, "64M, 1G, or MiB"),
      field("Memory target", memTarget, "pv balloon; empty = all of RAM"),
      field("Runs", runs),
      execField,
    ),
    h("label", { class: "check" }, start, " start it now"),
    submit,
    problems,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void send();
  });

  function entry(): VmEntry {
    const e: VmEntry = { name: name.value.trim(), profile: profile.value as "pv" | "full" };
    if (cpus.value !== "") e.cpus = Number(cpus.value);
    if (maxCpus.value !== "") e["max-cpus"] = Number(maxCpus.value);
    if (mem.value.trim() !== "") e.mem = sizeForApi(mem.value);
    if (memTarget.value.trim() !== "") e["mem-target"] = sizeForApi(memTarget.value);
    if (runs.value === "a command") e.exec = exec.value;
    else if (runs.value.startsWith("workload: ")) e.workload = runs.value.slice("workload: ".length);
    return e;
  }

  async function send(): Promise<void> {
    replace(problems);
    submit.disabled = true;
    try {
      const body = start.checked ? { ...entry(), start: true } : entry();
      const view = await api.post<VmView>("/vms", body);
      notify(`${view.name} created${start.checked ? " and started" : ""}`);
      name.value = "";
      created(view);
    } catch (e) {
      const lines = e instanceof ApiError && e.problems.length > 0 ? [e.message, ...e.problems] : [errorText(e)];
      replace(problems, ...lines.map((l) => h("li", {}, l)));
    } finally {
      submit.disabled = false;
    }
  }
  return form;
}
