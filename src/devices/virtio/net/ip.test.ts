import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatIpv4, ipBootArg, parseIpv4, Subnet } from "./ip.js";

describe("guest addressing", () => {
  test("a subnet hands out stable addresses from .2", () => {
    const s = new Subnet("10.77.0.99/24");
    assert.equal(s.netmask, "255.255.255.0");
    assert.equal(s.assign("vm-a"), "10.77.0.2");
    assert.equal(s.assign("vm-b"), "10.77.0.3");
    assert.equal(s.assign("vm-a"), "10.77.0.2");
  });

  test("an address claimed by a VM numbered elsewhere is given to no one else; one outside the subnet is ignored", () => {
    const s = new Subnet("10.77.0.0/24");
    s.claim("moved-in", "10.77.0.3/24");
    s.claim("elsewhere", "192.168.0.2");
    assert.equal(s.assign("vm-a"), "10.77.0.2");
    assert.equal(s.assign("vm-b"), "10.77.0.4", "not .3: the VM that migrated in holds it");
    assert.equal(s.assign("moved-in"), "10.77.0.3", "the claimant keeps its address");
  });

  test("a full subnet refuses", () => {
    const s = new Subnet("192.168.1.0/30");
    assert.equal(s.assign("a"), "192.168.1.2");
    assert.throws(() => s.assign("b"), /full/);
  });

  test("ip= argument", () => {
    assert.equal(
      ipBootArg({ address: "10.77.0.2", netmask: "255.255.255.0", hostname: "vm a" }),
      "ip=10.77.0.2:::255.255.255.0:vm-a:eth0:off",
    );
    assert.throws(() => ipBootArg({ address: "10.77.0.256", netmask: "255.255.255.0" }));
  });

  test("parse and format", () => {
    assert.equal(formatIpv4(parseIpv4("255.0.10.1")), "255.0.10.1");
    for (const bad of ["1.2.3", "1.2.3.4.5", "a.b.c.d", "1.2.3.300"]) assert.throws(() => parseIpv4(bad));
    assert.throws(() => new Subnet("10.0.0.0/31"));
    assert.throws(() => new Subnet("10.0.0.0"));
  });
});
