/**
 * `paravm net …` without a daemon: the table `net ls` prints (one row per link, a row with
 * dashes for a network without one), and the usage errors of `net link` (exit 2, one line).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import type { LinkView } from "../../net/links.js";
import { PARAVM_BIN } from "./daemon-harness.js";
import { networkTable } from "./net-commands.js";

const link = (over: Partial<LinkView>): LinkView => ({
  network: "lan",
  direction: "out",
  address: "127.0.0.1:8471",
  peer: "1a2b3c4d-0000-4000-8000-000000000000",
  state: "up",
  up: true,
  upSince: 0,
  connects: 2,
  lastError: null,
  rxFrames: 10,
  rxBytes: 2048,
  txFrames: 3,
  txBytes: 180,
  drops: { malformed: 1, noBuffer: 2 },
  badMessages: 1,
  ...over,
});

describe("paravm net", () => {
  test("net ls: a row per link with its direction, state, peer, connects, counters and drops; a network without links gets dashes", () => {
    const lines = networkTable([
      { name: "lan", subnet: "10.0.2.0/24", ports: [{ vm: "a" }, { vm: "b" }], links: [link({}), link({ direction: "in", address: "127.0.0.1:40210", state: "waiting", up: false, peer: null, connects: 1 })] },
      { name: "dmz", subnet: "10.0.3.0/24", ports: [], links: [] },
    ]);
    assert.deepEqual(lines.map((l) => l.split(/ {2,}/)), [
      ["NETWORK", "SUBNET", "VMS", "LINK", "PEER", "CONNECTS", "RX", "TX", "DROPS"],
      ["lan", "10.0.2.0/24", "a,b", "->127.0.0.1:8471 up", "1a2b3c4d", "2", "10/2K", "3/180B", "3"],
      ["lan", "10.0.2.0/24", "a,b", "<-127.0.0.1:40210 waiting", "-", "1", "10/2K", "3/180B", "3"],
      ["dmz", "10.0.3.0/24", "-", "-", "-", "-", "-", "-", "-"],
    ]);
  });

  test("net link: a --to that is not HOST:PORT, or none, is a usage error (exit 2) before any daemon is asked", () => {
    for (const args of [["--to", "nope"], ["--to", "127.0.0.1:0"], []]) {
      const r = spawnSync(process.execPath, [PARAVM_BIN, "net", "link", "lan", ...args], { encoding: "utf8", env: { ...process.env, PARAVM_HOST: "http://127.0.0.1:1" } });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /--to/);
    }
  });
});
