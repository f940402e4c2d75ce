import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SIFIVE_TEST, SifiveTestDevice, type PowerRequest } from "./device.js";

function setup() {
  const seen: PowerRequest[] = [];
  return { dev: new SifiveTestDevice((r) => seen.push(r)), seen };
}

describe("sifive,test1 power register", () => {
  test("0x5555 powers off, 0x7777 resets, code<<16|0x3333 fails with the code", () => {
    const { dev, seen } = setup();
    dev.write(SIFIVE_TEST.REG, 4, SIFIVE_TEST.PASS);
    dev.write(SIFIVE_TEST.REG, 4, SIFIVE_TEST.RESET);
    dev.write(SIFIVE_TEST.REG, 4, (42 << 16) | SIFIVE_TEST.FAIL);
    assert.deepEqual(seen, [{ kind: "poweroff" }, { kind: "reset" }, { kind: "fail", code: 42 }]);
    assert.deepEqual(dev.request, { kind: "fail", code: 42 });
  });

  test("a fail code with the top bit set is read unsigned", () => {
    const { dev } = setup();
    dev.write(SIFIVE_TEST.REG, 4, (0xffff << 16) | SIFIVE_TEST.FAIL);
    assert.deepEqual(dev.request, { kind: "fail", code: 0xffff });
  });

  test("a 16-bit store works (OpenSBI 1.1 powers off with writew)", () => {
    const { dev, seen } = setup();
    dev.write(SIFIVE_TEST.REG, 2, SIFIVE_TEST.PASS);
    assert.deepEqual(seen, [{ kind: "poweroff" }]);
  });

  test("other values, other offsets and byte stores are ignored; reads are 0", () => {
    const { dev, seen } = setup();
    dev.write(SIFIVE_TEST.REG, 4, 0x1234);
    dev.write(4, 4, SIFIVE_TEST.PASS);
    dev.write(SIFIVE_TEST.REG, 1, 0x55);
    assert.deepEqual(seen, []);
    assert.equal(dev.request, null);
    assert.equal(dev.read(0, 4), 0);
  });

  test("reset forgets a request; save/load round-trips one", () => {
    const { dev } = setup();
    dev.write(0, 4, SIFIVE_TEST.RESET);
    const s = dev.save();
    dev.reset();
    assert.equal(dev.request, null);
    dev.load(s);
    assert.deepEqual(dev.request, { kind: "reset" });
    dev.load({ request: { kind: "bogus" } });
    assert.equal(dev.request, null);
  });
});
