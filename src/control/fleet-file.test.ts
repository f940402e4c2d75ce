import { spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatMac, macFromName } from "../devices/virtio/net/mac.js";
import { vmChargeBytes } from "../hypervisor/memory-pool.js";
import { parseFleet, waves, WORKLOADS, type FleetContext, type FleetResult } from "./fleet-file.js";

const MiB = 1024 * 1024;
const ctx: FleetContext = { budgetBytes: 4096 * MiB, baseDir: "/fleets" };

function problems(r: FleetResult): readonly string[] {
  assert.equal(r.ok, false, "expected the fleet to be refused");
  return r.ok ? [] : r.problems;
}

/** Every pattern matches one problem, and no problem is left unmatched. */
function assertExactly(list: readonly string[], patterns: readonly RegExp[]): void {
  const left = [...list];
  for (const p of patterns) {
    const i = left.findIndex((l) => p.test(l));
    assert.ok(i >= 0, `no problem matches ${p}; problems:\n${list.join("\n")}`);
    left.splice(i, 1);
  }
  assert.deepEqual(left, [], `unexpected problems:\n${left.join("\n")}`);
}

const GOOD = `
networks:
  lan: { subnet: 10.9.0.0/24 }
  back:
vms:
  - name: web
    mem: 128M
    cpus: 1
    max-cpus: 2
    mem-target: 96M
    weight: 512
    disks: [{ path: data.img, snapshot: true }]
    nics: [{ network: lan, mac: "52:54:00:00:00:10" }]
    exec: echo hello
  - name: db
    profile: full
    mem: 64M
    cap: 50
    nics: [{ network: back }]
    workload: cpu-burn
    autoscale:
      cpu: { weight: { min: 64, max: 1024 } }
  - name: shell
    autoscale: { memory: { min: 64M, max: 256M } }
`;

describe("fleet file: a good file becomes the plans", () => {
  test("every field, and the defaults filled in", () => {
    const r = parseFleet(GOOD, "f.yaml", ctx);
    assert.ok(r.ok, r.ok ? "" : r.problems.join("\n"));
    const { networks, vms, chargeBytes } = r.fleet;
    assert.deepEqual(networks, { lan: "10.9.0.0/24", back: "10.0.2.0/24" });
    assert.deepEqual(
      vms.map((v) => v.name),
      ["web", "db", "shell"],
    );
    const [web, db, shell] = vms;
    assert.deepEqual(
      { ...web!, nic: { network: web!.nic!.network, mac: formatMac(web!.nic!.mac) } },
      {
        name: "web",
        profile: "pv",
        cpus: 1,
        maxCpus: 2,
        memBytes: 128 * MiB,
        memTargetBytes: 96 * MiB,
        weight: 512,
        disk: { path: "/fleets/data.img", readonly: false, snapshot: true },
        nic: { network: "lan", mac: "52:54:00:00:00:10" },
        exec: "echo hello",
      },
    );
    assert.equal(db!.profile, "full");
    assert.equal(db!.cap, 50);
    assert.equal(db!.workload, "cpu-burn");
    assert.equal(db!.exec, WORKLOADS["cpu-burn"](1));
    assert.deepEqual(db!.autoscale, { cpu: { weight: { min: 64, max: 1024 } } });
    assert.equal(formatMac(db!.nic!.mac), formatMac(macFromName("db")), "no mac: derived from the name");
    assert.deepEqual(shell, { name: "shell", profile: "pv", cpus: 1, maxCpus: 1, memBytes: 256 * MiB, autoscale: { memory: { min: 64 * MiB, max: 256 * MiB } } });
    // web boots with its balloon holding 32 MiB: charged by its target.
    assert.equal(chargeBytes, vmChargeBytes(128 * MiB, 2, 32 * MiB) + vmChargeBytes(64 * MiB, 1) + vmChargeBytes(256 * MiB, 1));
  });

  test("JSON is accepted as it is", () => {
    const r = parseFleet(JSON.stringify({ vms: [{ name: "a", mem: 67108864, exec: "true" }] }), "f.json", ctx);
    assert.ok(r.ok);
    assert.equal(r.fleet.vms[0]!.memBytes, 64 * MiB);
  });

  test("the cpu-burn workload runs one loop per vCPU present and prints its rate", () => {
    const script = WORKLOADS["cpu-burn"](3);
    assert.match(script, /-lt 3 \]/);
    assert.match(script, /loops\/s/);
  });

  test("cpu-waves alternates busy seconds (rates printed) with idle ones; the late variant starts idle", () => {
    // The same script under the host's sh, with 1 s waves instead of 30.
    const run = (busyFirst: boolean): string[] =>
      spawnSync("timeout", ["4.5", "sh", "-c", waves(2, busyFirst, 1)], { encoding: "utf8" }).stdout.split("\n").filter((l) => l !== "");
    const early = run(true);
    const late = run(false);
    assert.match(early[0]!, /^cpu-waves\[[01]\]: \d+ loops\/s$/, early.join(" | "));
    assert.ok(early.some((l) => l === "cpu-waves: idle for 1 s"), early.join(" | "));
    assert.equal(late[0], "cpu-waves: idle for 1 s", late.join(" | "));
    assert.ok(late.some((l) => /^cpu-waves\[1\]: \d+ loops\/s$/.test(l)), `one loop per vCPU: ${late.join(" | ")}`);
  });
});

describe("fleet file: every problem listed at once, with its path", () => {
  test("unknown keys, impossible sizes, duplicates, shared disks, undeclared networks, autoscale", () => {
    const text = `
networks:
  lan:
  wan: { subnet: 300.1.2.0/24, vlan: 3 }
colour: blue
vms:
  - name: a
    mem: 12Q
    memory: 1G
    nics: [{ network: lan, mac: "52:54:00:00:00:01" }]
    disks: [{ path: /d/shared.img }]
  - name: a
    cpus: 9
    weight: 0
    nics: [{ network: nowhere }]
  - name: b
    mem: 5G
    nics: [{ network: lan, mac: "52:54:00:00:00:01" }]
    disks: [{ path: /d/shared.img, readonly: true }]
    exec: "true"
    workload: cpu-burn
  - name: c
    profile: full
    max-cpus: 2
    mem-target: 64M
    workload: sleepy
    autoscale:
      cpu: { weight: { min: 900, max: 100 }, speed: 1 }
      memory: { min: 1M, max: 2G }
`;
    assertExactly(problems(parseFleet(text, "f.yaml", ctx)), [
      /^networks\.wan\.subnet: bad IPv4 address "300\.1\.2\.0"/,
      /^networks\.wan\.vlan: unknown key/,
      /^colour: unknown key \(known: networks, vms\)/,
      /^vms\[0\]\.mem: "12Q" is not a size/,
      /^vms\[0\]\.memory: unknown key/,
      /^vms\[1\]\.name: "a" is already the name of vms\[0\]/,
      /^vms\[1\]\.cpus: 9: expected a whole number from 1 to 8/,
      /^vms\[1\]\.weight: 0: /,
      /^vms\[1\]\.nics\[0\]\.network: "nowhere" is not declared under networks:/,
      /^vms\[2\]\.mem: "5G" is not a size/,
      /^vms\[2\]: exec and workload together/,
      /^vms\[2\]\.nics\[0\]\.mac: 52:54:00:00:00:01 is already the MAC of vms\[0\] \(a\)/,
      /^vms\[0\]\.disks\[0\]: \/d\/shared\.img is written by a and also attached to vms\[2\] \(b\)/,
      /^vms\[3\]\.max-cpus: .*pv only/,
      /^vms\[3\]\.mem-target: a full machine has no balloon/,
      /^vms\[3\]\.workload: "sleepy": expected one of cpu-burn, cpu-waves, cpu-waves-late, idle/,
      /^vms\[3\]\.autoscale\.cpu\.speed: unknown key/,
      /^vms\[3\]\.autoscale\.cpu\.weight: min 900 is above max 100/,
      /^vms\[3\]\.autoscale\.memory\.min: 1048576 is outside/,
      /^vms\[3\]\.autoscale\.memory\.max: \d+ is outside/,
      /^vms\[3\]\.autoscale\.memory: memory moves through the balloon: pv only/,
    ]);
  });

  test("a fleet that does not fit the memory budget names each VM's charge", () => {
    const text = "vms:\n  - { name: a, mem: 1G }\n  - { name: b, mem: 1G, max-cpus: 2 }\n";
    const need = vmChargeBytes(1024 * MiB, 1) + vmChargeBytes(1024 * MiB, 2);
    const [p, ...rest] = problems(parseFleet(text, "f.yaml", { ...ctx, budgetBytes: need - MiB }));
    assert.deepEqual(rest, []);
    assert.match(p!, new RegExp(`^vms: the fleet needs ${need / MiB} MiB of host memory \\(a ${vmChargeBytes(1024 * MiB, 1) / MiB} MiB, b ${vmChargeBytes(1024 * MiB, 2) / MiB} MiB;`));
    assert.match(p!, new RegExp(`budget is ${(need - MiB) / MiB} MiB`));
    assert.ok(parseFleet(text, "f.yaml", { ...ctx, budgetBytes: need }).ok, "exactly the budget fits");
  });

  test("disk files are checked through the caller, relative to the fleet file", () => {
    const seen: string[] = [];
    const r = parseFleet("vms:\n  - { name: a, disks: [{ path: gone.img }] }\n", "f.yaml", {
      ...ctx,
      diskProblem: (path) => (seen.push(path), "cannot read: no such file"),
    });
    assert.deepEqual(problems(r), ["vms[0].disks[0].path: cannot read: no such file"]);
    assert.deepEqual(seen, ["/fleets/gone.img"]);
  });

  test("YAML syntax errors name their line; duplicate keys are errors", () => {
    const list = problems(parseFleet("vms:\n  - name: a\n    name: b\n  - [\n", "f.yaml", ctx));
    assert.ok(list.length >= 2, list.join("\n"));
    assert.match(list[0]!, /^f\.yaml: Map keys must be unique at line 3/);
    assert.ok(list.every((l) => l.startsWith("f.yaml: ") && /line \d+/.test(l)), list.join("\n"));
  });

  test("the wrong shapes: not a mapping, no VMs, lists that are not lists, too many NICs", () => {
    assertExactly(problems(parseFleet("- a\n- b\n", "f.yaml", ctx)), [/^the fleet file must be a mapping/]);
    assertExactly(problems(parseFleet("networks: [lan]\nvms: []\n", "f.yaml", ctx)), [/^networks: must be a mapping/, /^vms: must be a list of at least one VM/]);
    const text = "networks: { lan: }\nvms:\n  - { name: a, disks: x.img, nics: [{ network: lan }, { network: lan }] }\n  - 7\n  - { profile: pv }\n";
    assertExactly(problems(parseFleet(text, "f.yaml", ctx)), [
      /^vms\[0\]\.disks: must be a list/,
      /^vms\[0\]\.nics: 2 given: a VM has at most 1/,
      /^vms\[1\]: must be a mapping/,
      /^vms\[2\]\.name: missing/,
    ]);
  });
});
