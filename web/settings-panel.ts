/**
 * Sliders for a VM's live settings: weight, cap, vCPUs online and the memory target.
 * A slider shows its value while it moves and sends one PATCH when released; the daemon
 * applies all or nothing, so a refusal puts the slider back and shows the API's message.
 */
import type { Api, VmView } from "./api.js";
import { h, setText } from "./dom.js";
import { parseSize } from "./format.js";
import { errorText, notify } from "./notice.js";

const MiB = 1024 * 1024;
/** The scheduler's bounds that a slider can reach (weight goes to 65535 through the API; the slider covers the useful part). */
const WEIGHT = { min: 1, max: 2048, step: 1 } as const;
/** Cap is % of one host core, 0 = none; a slider step of 5 points. */
const CAP_STEP = 5;
/** The balloon's floor: the larger of 32 MiB and RAM/8 (src/machine/pv-balloon.ts). */
const MEM_TARGET_FLOOR_MIB = 32;
const MEM_TARGET_RAM_FRACTION = 8;
const MEM_STEP_MIB = 4;

type Key = "weight" | "cap" | "vcpus" | "memTargetBytes";

interface Slider {
  key: Key;
  row: HTMLElement;
  range: HTMLInputElement;
  out: HTMLOutputElement;
  err: HTMLElement;
  /** Moved by the person and not yet sent: live updates leave it alone. */
  dirty: boolean;
  /** The value shown from the API, in slider units. */
  fromView(v: VmView): number;
  /** Slider units → the PATCH value. */
  toApi(x: number): number;
  label(x: number): string;
  bounds(v: VmView): { min: number; max: number; step: number; enabled: boolean; why?: string };
}

export interface SettingsPanel {
  el: HTMLElement;
  update(view: VmView): void;
}

/** `applied` gets the new view after a PATCH succeeds. */
export function settingsPanel(api: Api, name: string, applied: (view: VmView) => void): SettingsPanel {
  let view: VmView | null = null;
  const ramBytes = (v: VmView): number => parseSize(v.entry.mem) ?? v.settings.memTargetBytes ?? 0;
  const specs: Omit<Slider, "row" | "range" | "out" | "err" | "dirty">[] = [
    {
      key: "weight",
      fromView: (v) => v.settings.weight,
      toApi: (x) => x,
      label: (x) => String(x),
      bounds: (v) => ({ ...WEIGHT, max: Math.max(WEIGHT.max, v.settings.weight), enabled: true }),
    },
    {
      key: "cap",
      fromView: (v) => v.settings.cap,
      toApi: (x) => x,
      label: (x) => (x === 0 ? "none" : `${x}% of a core`),
      bounds: (v) => ({ min: 0, max: Math.max(100 * v.settings.vcpus.max, v.settings.cap), step: CAP_STEP, enabled: true }),
    },
    {
      key: "vcpus",
      fromView: (v) => v.settings.vcpus.online,
      toApi: (x) => x,
      label: (x) => `${x} online`,
      bounds: (v) => {
        const max = v.settings.vcpus.max;
        return { min: 1, max, step: 1, enabled: max > 1, why: max > 1 ? undefined : "max-cpus is 1" };
      },
    },
    {
      key: "memTargetBytes",
      fromView: (v) => Math.round((v.settings.memTargetBytes ?? ramBytes(v)) / MiB),
      toApi: (x) => x * MiB,
      label: (x) => `${x} MiB`,
      bounds: (v) => {
        const ram = Math.floor(ramBytes(v) / MiB);
        const min = Math.max(MEM_TARGET_FLOOR_MIB, Math.ceil(ram / MEM_TARGET_RAM_FRACTION));
        const pv = v.profile === "pv";
        return { min, max: ram, step: MEM_STEP_MIB, enabled: pv && ram > min, why: pv ? undefined : "no balloon on full" };
      },
    },
  ];
  const TITLES: Record<Key, string> = { weight: "Weight", cap: "Cap", vcpus: "vCPUs", memTargetBytes: "Memory target" };

  const sliders: Slider[] = specs.map((s) => {
    const range = h("input", { id: `set-${s.key}`, class: "slider", "aria-label": TITLES[s.key] });
    range.type = "range";
    const out = h("output", { id: `set-${s.key}-value` });
    const err = h("div", { class: "slider-error", role: "alert" });
    const row = h("div", { class: "setting" }, h("label", { for: range.id }, TITLES[s.key]), range, out, err);
    const slider: Slider = { ...s, row, range, out, err, dirty: false };
    range.addEventListener("input", () => {
      slider.dirty = true;
      setText(out, s.label(Number(range.value)));
    });
    range.addEventListener("change", () => void send(slider));
    return slider;
  });

  async function send(s: Slider): Promise<void> {
    const x = Number(s.range.value);
    setText(s.err, "");
    s.range.disabled = true;
    try {
      const v = await api.patch<VmView>(api.vmPath(name), { [s.key]: s.toApi(x) });
      notify(`${name}: ${TITLES[s.key].toLowerCase()} set to ${s.label(x)}`);
      s.dirty = false;
      update(v);
      applied(v);
    } catch (e) {
      setText(s.err, errorText(e));
      s.dirty = false;
      if (view !== null) show(s, view); // back to what the daemon has
    } finally {
      s.dirty = false;
      s.range.disabled = view !== null && !s.bounds(view).enabled;
    }
  }

  function show(s: Slider, v: VmView): void {
    const b = s.bounds(v);
    s.range.min = String(b.min);
    s.range.max = String(b.max);
    s.range.step = String(b.step);
    s.range.value = String(s.fromView(v));
    s.range.disabled = !b.enabled;
    s.range.title = b.why ?? "";
    setText(s.out, b.enabled || b.why === undefined ? s.label(s.fromView(v)) : `${s.label(s.fromView(v))} (${b.why})`);
  }

  function update(v: VmView): void {
    view = v;
    // A slider being moved keeps the person's value until it is released and sent.
    for (const s of sliders) if (!s.dirty) show(s, v);
  }

  const el = h("section", { class: "settings", id: "settings" }, h("h3", {}, "Live settings"), ...sliders.map((s) => s.row));
  return { el, update };
}
