import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { FDT, FdtBuilder, FdtError, type FdtNode, fdtValue, parseFdt } from "./fdt.js";

const dtcMissing = spawnSync("dtc", ["--version"]).error !== undefined;
const skipDtc = dtcMissing ? "dtc is not installed (node scripts/setup.mjs installs device-tree-compiler)" : false;

/** Runs dtc on stdin; returns its stdout (as bytes) and stderr. */
function dtc(args: string[], input: Uint8Array | string): { status: number | null; out: Buffer; err: string } {
  const r = spawnSync("dtc", [...args, "-"], { input });
  return { status: r.status, out: r.stdout, err: r.stderr.toString() };
}

/** A small tree that uses every builder call. */
function sampleTree(): FdtBuilder {
  const t = new FdtBuilder();
  t.reserve(0x8000_0000, 0x20_0000);
  t.beginNode("");
  t.propU32("#address-cells", 2);
  t.propU32("#size-cells", 2);
  t.propStrings("compatible", ["acme,board", "simple"]);
  t.beginNode("chosen");
  t.propString("bootargs", "console=hvc0 quiet");
  t.propU64("linux,initrd-start", 0x8800_0000);
  t.propU64("big", 0x1234_5678_9abc_def0n);
  t.endNode();
  t.beginNode("intc@1000");
  t.propPhandle("intc");
  t.propEmpty("interrupt-controller");
  t.propU32("#interrupt-cells", 1);
  t.propU32("#address-cells", 0);
  t.propU64s("reg", [0x1000, 0x100]);
  t.endNode();
  t.beginNode("dev@2000");
  t.propU32("interrupt-parent", t.phandle("intc"));
  t.propU32s("interrupts", [5]);
  t.propU64s("reg", [0x2000, 0x10]);
  t.propBytes("blob", new Uint8Array([1, 2, 3]));
  t.propString("compatible", "acme,dev");
  t.endNode();
  t.endNode();
  return t;
}

const be32 = (b: Uint8Array, off: number): number => new DataView(b.buffer, b.byteOffset).getUint32(off);

/** A plain-object view of a parsed tree: path → { prop → hex bytes }, for deep comparison. */
function flatten(root: FdtNode): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const n of root.walk()) {
    out[n.path] = Object.fromEntries([...n.props].map(([k, v]) => [k, Buffer.from(v).toString("hex")]));
  }
  return out;
}

describe("FDT writer: blob layout (Devicetree Specification v0.4 §5)", () => {
  const blob = sampleTree().finish({ bootCpuId: 3 });

  test("§5.2 header: magic, version 17, last compatible 16, boot CPU, totalsize = blob length", () => {
    assert.equal(be32(blob, 0), FDT.MAGIC);
    assert.equal(be32(blob, 4), blob.length);
    assert.equal(be32(blob, 20), 17);
    assert.equal(be32(blob, 24), 16);
    assert.equal(be32(blob, 28), 3);
  });

  test("§5.2 the blocks are 8-byte aligned, in order, and inside the blob", () => {
    const [structOff, stringsOff, rsvOff] = [be32(blob, 8), be32(blob, 12), be32(blob, 16)];
    const [stringsSize, structSize] = [be32(blob, 32), be32(blob, 36)];
    for (const off of [structOff, stringsOff, rsvOff]) assert.equal(off % 8, 0);
    assert.equal(rsvOff, 40);
    assert.ok(rsvOff + 2 * 16 <= structOff, "one entry + terminator before the structure block");
    assert.ok(structOff + structSize <= stringsOff);
    assert.ok(stringsOff + stringsSize <= blob.length);
    assert.equal(blob.length % 8, 0);
    assert.equal(be32(blob, structOff + structSize - 4), FDT.END, "the structure block ends with FDT_END");
  });

  test("§5.3 memory reservation block: big-endian address/size pairs, zero-terminated", () => {
    const v = new DataView(blob.buffer);
    assert.equal(v.getBigUint64(40), 0x8000_0000n);
    assert.equal(v.getBigUint64(48), 0x20_0000n);
    assert.equal(v.getBigUint64(56), 0n);
    assert.equal(v.getBigUint64(64), 0n);
  });

  test("§5.5 strings block holds each property name once", () => {
    const off = be32(blob, 12);
    const names = Buffer.from(blob.subarray(off, off + be32(blob, 32)))
      .toString("latin1")
      .split("\0")
      .slice(0, -1);
    assert.equal(new Set(names).size, names.length, `duplicates in ${names.join(",")}`);
    for (const n of ["#address-cells", "compatible", "reg", "phandle", "interrupts"]) assert.ok(names.includes(n), n);
  });

  test("§5.4 structure block tokens for a one-property tree, byte for byte", () => {
    const t = new FdtBuilder();
    t.beginNode("").beginNode("ab").propU32("x", 0x11223344).endNode().endNode();
    const b = t.finish();
    const off = be32(b, 8);
    const words = Array.from({ length: be32(b, 36) / 4 }, (_, i) => be32(b, off + i * 4));
    assert.deepEqual(words, [
      FDT.BEGIN_NODE,
      0, // "" + NUL, padded
      FDT.BEGIN_NODE,
      0x61620000, // "ab\0" padded
      FDT.PROP,
      4, // length
      0, // name offset of "x"
      0x11223344,
      FDT.END_NODE,
      FDT.END_NODE,
      FDT.END,
    ]);
    assert.equal(be32(b, 32), 2, 'strings block is "x\\0"');
  });

  test("extraSpace leaves free bytes counted in totalsize", () => {
    const plain = sampleTree().finish();
    const padded = sampleTree().finish({ extraSpace: 4096 });
    assert.equal(padded.length, plain.length + 4096);
    assert.equal(be32(padded, 4), padded.length);
    assert.deepEqual(flatten(parseFdt(padded).root), flatten(parseFdt(plain).root));
  });

  test("value encoders are big-endian", () => {
    assert.deepEqual([...fdtValue.u32s([0x01020304])], [1, 2, 3, 4]);
    assert.deepEqual([...fdtValue.u64s([0x1_0000_0002])], [0, 0, 0, 1, 0, 0, 0, 2]);
    assert.deepEqual([...fdtValue.strings(["a", "bc"])], [0x61, 0, 0x62, 0x63, 0]);
  });
});

describe("FDT parser: reads back what the writer wrote", () => {
  const tree = parseFdt(sampleTree().finish({ bootCpuId: 1 }));

  test("header fields and reservations", () => {
    assert.equal(tree.version, 17);
    assert.equal(tree.lastCompVersion, 16);
    assert.equal(tree.bootCpuId, 1);
    assert.deepEqual(tree.reservations, [{ address: 0x8000_0000, size: 0x20_0000 }]);
  });

  test("nodes, paths and typed property readers", () => {
    assert.deepEqual(
      [...tree.root.walk()].map((n) => n.path),
      ["/", "/chosen", "/intc@1000", "/dev@2000"],
    );
    assert.equal(tree.root.u32("#address-cells"), 2);
    assert.deepEqual(tree.root.strings("compatible"), ["acme,board", "simple"]);
    const chosen = tree.node("/chosen")!;
    assert.equal(chosen.string("bootargs"), "console=hvc0 quiet");
    assert.equal(chosen.u64("linux,initrd-start"), 0x8800_0000);
    assert.throws(() => chosen.u64("big"), FdtError, "a u64 above 2^53 is refused, not rounded");
    const dev = tree.node("/dev@2000")!;
    assert.deepEqual(dev.u64s("reg"), [0x2000, 0x10]);
    assert.deepEqual(dev.u32s("interrupts"), [5]);
    assert.deepEqual([...dev.prop("blob")], [1, 2, 3]);
    assert.equal(dev.parent, tree.root);
    assert.equal(dev.node("/chosen"), chosen, "absolute lookups start at the root");
    assert.equal(tree.root.node("dev@2000"), dev);
    assert.equal(tree.node("/nope"), undefined);
  });

  test("phandles allocated by name resolve to the declaring node", () => {
    const dev = tree.node("/dev@2000")!;
    const intc = tree.byPhandle(dev.u32("interrupt-parent"));
    assert.equal(intc?.path, "/intc@1000");
    assert.ok(intc.has("interrupt-controller"));
    assert.equal(intc.prop("interrupt-controller").length, 0);
  });

  test("typed readers reject values of the wrong shape", () => {
    const dev = tree.node("/dev@2000")!;
    assert.throws(() => dev.u32("reg"), /not one cell/);
    assert.throws(() => dev.u32s("blob"), /not whole cells/);
    assert.throws(() => dev.string("reg"), FdtError);
    assert.throws(() => dev.prop("missing"), /has no property "missing"/);
  });
});

describe("FDT writer: misuse is an FdtError at the call that did it", () => {
  const open = (): FdtBuilder => new FdtBuilder().beginNode("");
  const cases: [string, () => unknown, RegExp][] = [
    ["root with a name", () => new FdtBuilder().beginNode("x"), /root node's name must be empty/],
    ["property outside a node", () => new FdtBuilder().propU32("a", 1), /outside any node/],
    ["property after a child", () => open().beginNode("c").endNode().propU32("a", 1), /comes after a child/],
    ["duplicate property", () => open().propU32("a", 1).propU32("a", 2), /duplicate property "a" in \//],
    ["duplicate child", () => open().beginNode("c").endNode().beginNode("c"), /duplicate node \/c/],
    ["bad node name", () => open().beginNode("a b"), /invalid node name/],
    ["too long a property name", () => open().propEmpty("p".repeat(32)), /invalid property name/],
    ["unbalanced endNode", () => open().endNode().endNode(), /without a matching/],
    ["second root", () => open().endNode().beginNode(""), /already has a root/],
    ["unclosed node", () => open().beginNode("c").finish(), /node \/c is still open/],
    ["no root", () => new FdtBuilder().finish(), /no root node/],
    ["NUL inside a string", () => open().propString("s", "a\0b"), /\/:s: string contains a NUL/],
    ["empty string list", () => open().propStrings("s", []), /empty string list/],
    ["u32 out of range", () => open().propU32("n", 2 ** 32), /\/:n: 4294967296 is not a u32/],
    ["negative u64", () => open().propU64("n", -1), /is not a u64/],
    ["unsafe u64 number", () => open().propU64("n", 2 ** 60), /is not a u64/],
    ["phandle declared twice", () => open().propPhandle("a").beginNode("c").propPhandle("a"), /declared twice/],
    [
      "phandle referenced, never declared",
      () => {
        const t = open();
        t.propU32("interrupt-parent", t.phandle("ghost"));
        return t.endNode().finish();
      },
      /"ghost" is referenced but no node declares it/,
    ],
    [
      "use after finish",
      () => {
        const t = open().endNode();
        t.finish();
        return t.beginNode("");
      },
      /finished/,
    ],
  ];
  for (const [name, fn, re] of cases) {
    test(name, () => assert.throws(fn, (e: unknown) => e instanceof FdtError && re.test(e.message)));
  }

  test("phandles are numbered 1, 2, … in order of first use, stable on reuse", () => {
    const t = new FdtBuilder();
    assert.equal(t.phandle("b"), 1);
    assert.equal(t.phandle("a"), 2);
    assert.equal(t.phandle("b"), 1);
  });
});

describe("FDT parser: a malformed blob is an FdtError, never a crash", () => {
  const good = sampleTree().finish();
  const mutate = (f: (b: Uint8Array, v: DataView) => void): Uint8Array => {
    const b = good.slice();
    f(b, new DataView(b.buffer));
    return b;
  };
  const structOff = be32(good, 8);
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short for a header", good.subarray(0, 39), /shorter than a header/],
    ["bad magic", mutate((_, v) => v.setUint32(0, 0xfeeddead)), /bad magic/],
    ["version 15", mutate((_, v) => v.setUint32(20, 15)), /unsupported version/],
    ["totalsize past the buffer", mutate((b, v) => v.setUint32(4, b.length + 8)), /does not fit/],
    ["structure block outside", mutate((b, v) => v.setUint32(36, b.length)), /structure block/],
    ["strings block outside", mutate((b, v) => v.setUint32(12, b.length - 2)), /strings block/],
    ["unknown token", mutate((_, v) => v.setUint32(structOff, 7)), /unknown token 0x7/],
    ["first token is not a node", mutate((_, v) => v.setUint32(structOff, FDT.END_NODE)), /outside any node/],
    ["property name offset out of range", mutate((_, v) => v.setUint32(structOff + 16, 0xffff)), /name offset/],
    ["property longer than the block", mutate((_, v) => v.setUint32(structOff + 12, 0xfff_fff0)), /runs past/],
    [
      "no FDT_END",
      mutate((_, v) => v.setUint32(structOff + be32(good, 36) - 4, FDT.NOP)),
      /ends inside a token|still open/,
    ],
  ];
  for (const [name, blob, re] of cases) {
    test(name, () => assert.throws(() => parseFdt(blob), (e: unknown) => e instanceof FdtError && re.test(e.message)));
  }

  test("2000 random corruptions: each parses or throws FdtError", () => {
    let seed = 0x2545f491;
    const rand = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (let i = 0; i < 2000; i++) {
      const b = good.slice();
      const flips = 1 + rand(4);
      for (let k = 0; k < flips; k++) b[rand(b.length)] = rand(256);
      try {
        const t = parseFdt(b);
        for (const n of t.root.walk()) void n.path;
      } catch (e) {
        assert.ok(e instanceof FdtError, `iteration ${i}: ${String(e)}`);
      }
    }
  });
});

describe("FDT interop with dtc", () => {
  test("dtc reads our blob without a warning and writes back the same tree", { skip: skipDtc }, () => {
    const ours = sampleTree().finish();
    const r = dtc(["-I", "dtb", "-O", "dtb"], ours);
    assert.equal(r.err, "");
    assert.equal(r.status, 0);
    const theirs = parseFdt(new Uint8Array(r.out));
    assert.deepEqual(flatten(theirs.root), flatten(parseFdt(ours).root));
    assert.deepEqual(theirs.reservations, [{ address: 0x8000_0000, size: 0x20_0000 }]);
  });

  test("the parser reads a blob that dtc compiled from source", { skip: skipDtc }, () => {
    const dts = `/dts-v1/;
/memreserve/ 0x90000000 0x1000;
/ {
  #address-cells = <1>; #size-cells = <1>;
  n@10 { reg = <0x10 0x4>; s = "one", "two"; e; w = /bits/ 64 <0x100000000>; b = [de ad]; };
};`;
    const r = dtc(["-I", "dts", "-O", "dtb"], dts);
    assert.equal(r.err, "");
    const t = parseFdt(new Uint8Array(r.out));
    assert.equal(t.version, 17);
    assert.deepEqual(t.reservations, [{ address: 0x9000_0000, size: 0x1000 }]);
    const n = t.node("/n@10")!;
    assert.deepEqual(n.u32s("reg"), [0x10, 4]);
    assert.deepEqual(n.strings("s"), ["one", "two"]);
    assert.equal(n.prop("e").length, 0);
    assert.equal(n.u64("w"), 2 ** 32);
    assert.deepEqual([...n.prop("b")], [0xde, 0xad]);
  });
});
