/**
 * The receiving side of a live migration (wire.ts has the protocol). Everything that can
 * be checked is checked on the offer, before anything moves: the protocol and state
 * versions, the VM's description, its name, the memory budget, its disk, its network. The
 * machine is then built from the images it is sent and left waiting (Vm.start incoming)
 * while the source's pages are written straight into its shared RAM; the state comes
 * last, and the guest runs here.
 *
 * If the link breaks before the state arrived, the half-built VM is dropped (the source
 * still runs the guest). Once it runs here, this side owns it whatever becomes of the source.
 */
import { statSync } from "node:fs";
import { MACHINE_STATE } from "../../machine/machine-state.js";
import { hostMemory } from "../../mem/host-memory.js";
import type { Hypervisor } from "../hypervisor.js";
import { mib, specChargeBytes } from "../memory-pool.js";
import { SnapshotError } from "../snapshot/format.js";
import { checkVmInfo, specOf, VM_SNAPSHOT, type VmSnapshotInfo } from "../snapshot/vm-file.js";
import type { Vm } from "../vm.js";
import type { MigrationLink } from "./link.js";
import { MigrationError } from "./source.js";
import { controlText, MIGRATION, parseBinary, parseControl, type BlobName, type Control } from "./wire.js";

export type Offer = Extract<Control, { t: "offer" }>;

export interface AcceptOptions {
  /** The caller's own checks of an offer that passed the hypervisor's: why it is refused, or null. */
  readonly check?: (offer: Offer) => string | null;
  /** Called with the VM once it exists, before its guest runs here (console listeners go on here). */
  readonly onCreate?: (vm: Vm, offer: Offer) => void;
  /** Where it comes from, for messages. */
  readonly from?: string;
  /** Called with the count of pages received so far after each batch (fault injection in tests). */
  readonly onPages?: (received: number) => void;
}

export interface IncomingResult {
  readonly vm: Vm;
  readonly pages: number;
  readonly bytes: number;
  readonly ms: number;
}

/** Why this host will not take the offered VM, or null. */
export function offerProblem(hv: Hypervisor, offer: Extract<Control, { t: "offer" }>): string | null {
  if (offer.protocol !== MIGRATION.PROTOCOL) return `it speaks migration protocol ${offer.protocol}, this paravm speaks ${MIGRATION.PROTOCOL}`;
  if (offer.vmVersion !== VM_SNAPSHOT.VERSION || offer.machineVersion !== MACHINE_STATE.VERSION) {
    return `its VM/machine state versions are ${offer.vmVersion}/${offer.machineVersion}, this paravm (${hostVersion}) loads ${VM_SNAPSHOT.VERSION}/${MACHINE_STATE.VERSION}`;
  }
  let info: VmSnapshotInfo;
  try {
    info = checkVmInfo("the offer", offer.info);
  } catch (e) {
    return e instanceof SnapshotError ? e.why : String(e);
  }
  if (hv.vms.has(info.name)) return `a VM named "${info.name}" exists here already`;
  const charge = specChargeBytes(info);
  if (charge > hv.memory.freeBytes) return `VM ${info.name} needs ${mib(charge)} of host memory, only ${mib(hv.memory.freeBytes)} of ${mib(hv.memory.budgetBytes)} is free here`;
  if (info.disk) {
    // The disk is shared storage (the same file, here on one machine): it must be there with the same size.
    try {
      const st = statSync(info.disk.spec.path);
      if (st.size !== info.disk.size) return `its disk ${info.disk.spec.path} is ${st.size} bytes here, ${info.disk.size} at the source`;
    } catch (e) {
      return `its disk ${info.disk.spec.path} is not reachable here (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
    }
  }
  if (offer.network !== undefined && !info.net) return `it names network ${offer.network} but has no NIC`;
  return null;
}

let hostVersion = "this version";
/** The version told in refusals (the control layer sets package.json's). */
export function setHostVersion(v: string): void {
  hostVersion = v;
}

/**
 * Takes one VM arriving over `link`; resolves with it running here, rejects with a
 * MigrationError (refused: the offer was refused, nothing was created).
 */
export function acceptMigration(hv: Hypervisor, link: MigrationLink, opts: AcceptOptions = {}): Promise<IncomingResult> {
  const from = opts.from ?? "the source";
  return new Promise<IncomingResult>((resolve, reject) => {
    const t0 = performance.now();
    let phase: "offer" | "images" | "building" | "pages" | "loading" | "done" | "failed" = "offer";
    let info: VmSnapshotInfo | null = null;
    let offer: Extract<Control, { t: "offer" }> | null = null;
    let vm: Vm | null = null;
    let ram: Uint8Array | null = null;
    let received: Uint8Array | null = null;
    const pieces = new Map<BlobName, Uint8Array[]>();
    const blobBytes = new Map<BlobName, number>();
    const blob = (name: BlobName): Uint8Array | undefined => {
      const p = pieces.get(name);
      return p ? Buffer.concat(p) : undefined;
    };
    let pages = 0;
    let bytes = 0;

    const fail = (why: string, refused = false, tell = true): void => {
      if (phase === "done" || phase === "failed") return;
      phase = "failed";
      if (tell) link.send(controlText(refused ? { t: "refuse", why } : { t: "fail", why }));
      link.close(why);
      const name = vm?.name;
      if (name !== undefined && hv.vms.get(name) === vm) void hv.destroy(name).catch(() => undefined);
      reject(new MigrationError(refused ? `refused VM from ${from}: ${why}` : `incoming migration from ${from} failed: ${why}`, "unchanged", refused));
    };

    const build = async (): Promise<void> => {
      phase = "building";
      const kernel = blob("kernel");
      if (!info || !offer || !kernel) return fail("the source sent no kernel");
      const initrd = blob("initrd");
      const firmware = blob("firmware");
      if (info.profile === "full" && !firmware) return fail("a full VM without its firmware");
      const spec = specOf(info, { kernel, ...(initrd ? { initrd } : {}), ...(firmware ? { firmware } : {}) });
      try {
        vm = hv.create({ name: info.name, spec, weight: info.weight, cap: info.cap, ...(offer.network !== undefined ? { network: offer.network } : {}) });
        opts.onCreate?.(vm, offer);
        await vm.start({ incoming: true, ...(info.agentHello !== undefined ? { agentHello: info.agentHello } : {}) });
      } catch (e) {
        return fail(`could not build VM ${info.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (phase !== "building") return; // the link broke meanwhile: fail() dropped the VM
      const sab = vm.guestRam()!;
      ram = new Uint8Array(sab);
      // The build wrote its kernel, initrd and device tree; the guest's RAM must start from
      // zeros. Where the host takes pages back (madvise), all of it is given back now, before
      // any page arrives. Else the pages round 0 did not bring are compared and zeroed after
      // it (zeroUnsent): reading a 256 MiB RAM took 60–90 ms of the migration's critical path.
      if (hostMemory().reclaimOf(sab) === "madvise") hostMemory().discard(sab, 0, sab.byteLength);
      else received = new Uint8Array(ram.length / MIGRATION.PAGE);
      phase = "pages";
      link.send(controlText({ t: "built" }));
    };

    const load = async (machine: unknown): Promise<void> => {
      phase = "loading";
      const v = vm!;
      try {
        await v.completeIncoming(machine, blob("overlay") ?? null);
      } catch (e) {
        return fail(e instanceof Error ? e.message : String(e));
      }
      phase = "done";
      // Every switch on the segment learns where the VM's MAC is now (net/announce.ts).
      if (v.spec.net) void hv.port(v.name)?.announce(v.spec.net.mac);
      link.send(controlText({ t: "running" }));
      resolve({ vm: v, pages, bytes, ms: performance.now() - t0 });
    };

    /** Round 0 sent every page the source had in use: the rest must read as zero here (the build wrote its kernel and device tree). */
    const zeroUnsent = (): void => {
      const r = received!;
      const m = Buffer.from(ram!.buffer, ram!.byteOffset, ram!.length);
      for (let p = 0; p < r.length; p++) {
        if (r[p] !== 0) continue;
        const at = p * MIGRATION.PAGE;
        if (m.compare(ZERO_PAGE, 0, MIGRATION.PAGE, at, at + MIGRATION.PAGE) !== 0) m.fill(0, at, at + MIGRATION.PAGE);
      }
      received = null;
    };

    link.onClose((why) => {
      if (phase !== "done") fail(`the link to ${from} closed (${why}) before the VM ran here; the source keeps it`, false, false);
    });
    link.onMessage((msg) => {
      if (phase === "done" || phase === "failed") return;
      if (typeof msg !== "string") {
        if (phase === "images" || (phase === "pages" && ram !== null)) {
          const b = parseBinary(msg, ram ? ram.length / MIGRATION.PAGE : 1);
          if (typeof b === "string") return fail(`bad data from ${from}: ${b}`);
          if (b.kind === "blob") {
            if (b.name === "overlay" ? phase !== "pages" : phase !== "images") return fail(`blob ${b.name} at the wrong time`);
            const total = (blobBytes.get(b.name) ?? 0) + b.bytes.length;
            if (total > MIGRATION.MAX_BLOB_BYTES) return fail(`blob ${b.name} is larger than ${MIGRATION.MAX_BLOB_BYTES} bytes`);
            blobBytes.set(b.name, total);
            const list = pieces.get(b.name) ?? [];
            list.push(b.bytes.slice());
            pieces.set(b.name, list);
            return;
          }
          if (phase !== "pages") return fail("pages before the machine was built");
          for (let i = 0; i < b.pages.length; i++) {
            const p = b.pages[i]!;
            if (b.kind === "pages") ram!.set(b.data.subarray(i * MIGRATION.PAGE, (i + 1) * MIGRATION.PAGE), p * MIGRATION.PAGE);
            else ram!.fill(0, p * MIGRATION.PAGE, (p + 1) * MIGRATION.PAGE);
            if (received) received[p] = 1;
          }
          pages += b.pages.length;
          bytes += msg.length;
          opts.onPages?.(pages);
          return;
        }
        return fail(`data from ${from} while ${phase}`);
      }
      const c = parseControl(msg);
      if (typeof c === "string") return fail(`${from} sent ${c}`);
      if (c.t === "fail") return fail(`${from} gave up: ${c.why}`, false, false);
      if (phase === "offer" && c.t === "offer") {
        let why = offerProblem(hv, c);
        try {
          why ??= opts.check?.(c) ?? null;
        } catch (e) {
          why = e instanceof Error ? e.message : String(e);
        }
        if (why !== null) return fail(why, true);
        offer = c;
        info = c.info;
        phase = "images";
        link.send(controlText({ t: "accept" }));
      } else if (phase === "images" && c.t === "build") void build();
      else if (phase === "pages" && c.t === "round") {
        if (c.n === 0 && received) zeroUnsent();
        link.send(controlText({ t: "have", n: c.n, pages }));
      } else if (phase === "pages" && c.t === "state") {
        if (received) zeroUnsent();
        void load(c.machine);
      } else fail(`${from} sent ${c.t} while ${phase}`);
    });
  });
}

const ZERO_PAGE = Buffer.alloc(MIGRATION.PAGE);
