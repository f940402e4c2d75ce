/**
 * `GET /metrics`: the Prometheus text exposition format (version 0.0.4), written by hand —
 * a few dozen lines, no registry to keep in step with the VMs. Counters are read from the
 * hypervisor when scraped; exits by reason and instructions are live while a VM runs (its
 * vCPU threads post them once a second: Vm.liveCounters) and from its last finished run
 * otherwise; disk bytes come from the last finished run. Containers' figures are their last
 * known status (the container service's cache).
 */
import type { FullResult } from "../../machine/full.js";
import type { PvResult } from "../../machine/pv.js";
import type { Vmm } from "./vmm.js";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string | number>;

/** A label value escaped as the format wants (backslash, quote, newline). */
const esc = (v: string | number): string => String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

class Exposition {
  private readonly families = new Map<string, { help: string; type: string; samples: string[] }>();

  add(name: string, type: "counter" | "gauge", help: string, labels: Labels, value: number | null | undefined): void {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    let f = this.families.get(name);
    if (!f) this.families.set(name, (f = { help, type, samples: [] }));
    const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(",");
    f.samples.push(`${name}${l === "" ? "" : `{${l}}`} ${value}`);
  }

  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.samples);
    return `${out.join("\n")}\n`;
  }
}

const STATES = ["created", "running", "paused", "stopped", "crashed"] as const;
const CONTAINER_STATES = ["creating", "created", "running", "exited", "lost"] as const;

export function prometheusText(vmm: Vmm): string {
  const x = new Exposition();
  const mem = vmm.hv.memory;
  x.add("paravm_host_memory_budget_bytes", "gauge", "Host memory budget VMs are admitted against.", {}, mem.budgetBytes);
  x.add("paravm_host_memory_free_bytes", "gauge", "Host memory budget not charged to a running VM.", {}, mem.freeBytes);
  x.add("paravm_host_pcpus", "gauge", "Host cores the scheduler hands out.", {}, vmm.hv.scheduler.pcpus);
  for (const rec of vmm.records.values()) {
    const vm = rec.vm;
    const l = { vm: vm.name };
    const state = vmm.view(vm.name).state;
    for (const s of STATES) x.add("paravm_vm_state", "gauge", "1 for the VM's state.", { ...l, state: s }, s === state ? 1 : 0);
    const s = vm.schedStats();
    x.add("paravm_vm_weight", "gauge", "Credit scheduler weight.", l, vm.settings.weight);
    x.add("paravm_vm_cap_percent", "gauge", "Credit scheduler cap in % of one core (0: none).", l, vm.settings.cap);
    const v = vmm.view(vm.name).settings.vcpus;
    x.add("paravm_vm_vcpus_online", "gauge", "vCPUs online in the guest.", l, v.online);
    x.add("paravm_vm_vcpus_max", "gauge", "vCPUs present.", l, v.max);
    if (s) {
      x.add("paravm_vm_cpu_seconds_total", "counter", "Host CPU time the VM's vCPUs received (this run).", l, s.cpuMs / 1000);
      x.add("paravm_vm_steal_seconds_total", "counter", "Time runnable but waiting for a host core (this run).", l, s.waitMs / 1000);
      x.add("paravm_vm_idle_seconds_total", "counter", "Time idle in WFI (this run).", l, s.idleMs / 1000);
      x.add("paravm_vm_share_cores", "gauge", "Host cores received over the last second.", l, s.share);
      x.add("paravm_vm_entitlement_cores", "gauge", "Host cores the weight and cap entitle the VM to now.", l, s.entitlement);
      for (const c of s.vcpus) {
        const lv = { ...l, vcpu: c.vcpu };
        x.add("paravm_vcpu_cpu_seconds_total", "counter", "Host CPU time a vCPU received (this run).", lv, c.cpuMs / 1000);
        x.add("paravm_vcpu_steal_seconds_total", "counter", "Time a vCPU was runnable but waiting for a host core (this run).", lv, c.waitMs / 1000);
      }
    }
    const m = vmm.telemetry.peek(vm.name);
    x.add("paravm_vm_memory_bytes", "gauge", "Guest RAM.", l, vm.spec.memBytes);
    x.add("paravm_vm_memory_target_bytes", "gauge", "Memory the balloon leaves the guest (pv).", l, vmm.view(vm.name).settings.memTargetBytes);
    if (m) {
      x.add("paravm_vm_balloon_bytes", "gauge", "Memory the balloon holds (pv, running).", l, m.balloonBytes);
      x.add("paravm_vm_guest_available_bytes", "gauge", "MemAvailable the guest reports through the balloon.", l, m.availableBytes);
    }
    const port = vmm.hv.port(vm.name)?.port.stats;
    if (port) {
      const lp = { ...l, network: rec.entry.nics?.[0]?.network ?? "" };
      x.add("paravm_port_rx_bytes_total", "counter", "Bytes the switch delivered to the VM's port.", lp, port.rxBytes);
      x.add("paravm_port_tx_bytes_total", "counter", "Bytes the VM's port sent into the switch.", lp, port.txBytes);
      x.add("paravm_port_rx_frames_total", "counter", "Frames delivered to the VM's port.", lp, port.rxFrames);
      x.add("paravm_port_tx_frames_total", "counter", "Frames the VM's port sent.", lp, port.txFrames);
      for (const [why, n] of Object.entries(port.drops)) x.add("paravm_port_drops_total", "counter", "Frames dropped at the port, by reason.", { ...lp, reason: why }, n);
    }
    // This run's counts while it runs (at most a second old), else the last finished run's.
    const run = rec.lastRun?.kind === "stopped" ? (rec.lastRun.result as PvResult | FullResult) : null;
    const live = vm.state === "running" || vm.state === "paused" ? vm.liveCounters() : null;
    const blk = run ? (run as PvResult).blk : undefined;
    const counts = live ?? (run ? { exits: run.exits, instret: run.instret, disk: blk ? { read: blk.bytesRead, written: blk.bytesWritten } : null } : null);
    if (counts) {
      const when = "(this run, at most a second old; else the last finished run)";
      for (const [reason, n] of Object.entries(counts.exits)) x.add("paravm_vm_exits_total", "counter", `Exits by reason ${when}.`, { ...l, reason }, n);
      x.add("paravm_vm_instructions_total", "counter", `Guest instructions retired ${when}.`, l, counts.instret);
      if (counts.disk) {
        x.add("paravm_vm_disk_read_bytes_total", "counter", `Disk bytes read ${when}.`, l, counts.disk.read);
        x.add("paravm_vm_disk_written_bytes_total", "counter", `Disk bytes written ${when}.`, l, counts.disk.written);
      }
    }
  }
  // Containers: their last known status (a scrape asks no guest; it starts a re-read for the next one).
  for (const c of vmm.containers.cached()) {
    const l = { container: c.name, host: c.host };
    for (const s of CONTAINER_STATES) x.add("paravm_container_state", "gauge", "1 for the container's state.", { ...l, state: s }, s === c.state ? 1 : 0);
    x.add("paravm_container_cpu_seconds_total", "counter", "CPU time of the container's processes (cpu.stat usage_usec).", l, c.usage.cpuSeconds);
    x.add("paravm_container_memory_bytes", "gauge", "The container's memory.current.", l, c.usage.memBytes);
    if (typeof c.limits.memMax === "number") x.add("paravm_container_memory_max_bytes", "gauge", "The container's memory.max (absent: no limit).", l, c.limits.memMax);
    x.add("paravm_container_oom_kills_total", "counter", "OOM kills in the container (memory.events oom_kill).", l, c.oomKills);
  }
  return x.text();
}
