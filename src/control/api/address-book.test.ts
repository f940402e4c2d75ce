/**
 * The clones' addresses (address-book.ts): ranges given out consecutively inside the
 * first address's subnet and refused where they leave it or touch its network or
 * broadcast address; the address on a kernel command line; who holds what, per network;
 * a reservation freed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AddressBook, AddressError, addressRange, bootAddress, parseCidr, takenAddresses } from "./address-book.js";

const refusedWith = (f: () => unknown, why: RegExp): void => assert.throws(f, (e: unknown) => e instanceof AddressError && why.test(e.message));

describe("address ranges for clones", () => {
  test("consecutive addresses from the first, each with its prefix length", () => {
    assert.deepEqual(addressRange("10.0.0.10/24", 3), ["10.0.0.10/24", "10.0.0.11/24", "10.0.0.12/24"]);
    assert.deepEqual(addressRange("10.0.0.10/24", 1), ["10.0.0.10/24"]);
    // Across an octet inside a wider subnet.
    assert.deepEqual(addressRange("172.16.0.254/16", 3), ["172.16.0.254/16", "172.16.0.255/16", "172.16.1.0/16"]);
    // Up to the last host address, not past it.
    assert.deepEqual(addressRange("10.0.0.250/24", 5).at(-1), "10.0.0.254/24");
  });

  test("a range that runs past the subnet, ends on its broadcast address or starts on its network address is refused, saying which", () => {
    refusedWith(() => addressRange("10.0.0.250/24", 10), /10 addresses from 10\.0\.0\.250\/24 run past the subnet 10\.0\.0\.0\/24 \(its hosts are 10\.0\.0\.1\.\.10\.0\.0\.254; 5 from 10\.0\.0\.250 on\)/);
    refusedWith(() => addressRange("10.0.0.250/24", 6), /end on 10\.0\.0\.255, the broadcast address of 10\.0\.0\.0\/24/);
    refusedWith(() => addressRange("10.0.0.0/24", 2), /10\.0\.0\.0\/24 is the address of the network 10\.0\.0\.0\/24 itself/);
    refusedWith(() => addressRange("192.168.7.9/30", 4), /run past the subnet 192\.168\.7\.8\/30/);
  });

  test("an address without a prefix length, a bad address or a prefix outside 8..30 is refused", () => {
    refusedWith(() => parseCidr("10.0.0.10"), /has no prefix length: write it as 10\.0\.0\.10\/24/);
    refusedWith(() => parseCidr("10.0.0.300/24"), /10\.0\.0\.300 is not an IPv4 address/);
    refusedWith(() => parseCidr("10.0.0.1/31"), /prefix length is 31, outside 8\.\.30/);
    refusedWith(() => parseCidr("10.0.0.1/4"), /prefix length is 4, outside 8\.\.30/);
    refusedWith(() => parseCidr("web"), /not an IPv4 address with a prefix length/);
    assert.deepEqual(parseCidr(" 10.0.0.1/8 "), { ip: 0x0a00_0001, prefix: 8 });
  });
});

describe("the address on a kernel command line", () => {
  test("ip=<client>::<gateway>:<netmask>:… gives the client address with the netmask's prefix length", () => {
    assert.equal(bootAddress("console=hvc0 ip=10.0.2.3::10.0.2.1:255.255.255.0:web:eth0:off quiet"), "10.0.2.3/24");
    assert.equal(bootAddress("ip=192.168.0.9:::255.255.0.0::eth0:off"), "192.168.0.9/16");
    // No netmask, or one with holes: still held, as a lone host.
    assert.equal(bootAddress("ip=10.1.1.1::::h:eth0:off"), "10.1.1.1/32");
    assert.equal(bootAddress("ip=10.1.1.1:::255.0.255.0:h:eth0:off"), "10.1.1.1/32");
    for (const none of ["console=hvc0", "ip=dhcp", "ip=off", "vip=10.0.0.1::::", ""]) assert.equal(bootAddress(none), null, none);
  });
});

describe("who holds which address", () => {
  const vms = [
    { name: "plain", network: "lan", bootargs: "ip=10.0.0.11::10.0.0.1:255.255.255.0:plain:eth0:off" },
    { name: "nonic", network: null, bootargs: "ip=10.0.0.12::10.0.0.1:255.255.255.0:x:eth0:off" },
    { name: "web-1", network: "lan", bootargs: "ip=10.0.2.2::10.0.2.1:255.255.255.0:origin:eth0:off" },
  ];

  test("a clone's reservation stands for it (not the saved command line it was restored with); other VMs hold their command line's address", () => {
    const book = new AddressBook();
    book.reserve("web-1", "lan", "10.0.0.10/24");
    assert.deepEqual(book.holders(vms), [
      { vm: "plain", network: "lan", address: "10.0.0.11/24", how: "boot" },
      { vm: "web-1", network: "lan", address: "10.0.0.10/24", how: "clone" },
    ]);
    const taken = takenAddresses(addressRange("10.0.0.9/24", 4), "lan", book.holders(vms));
    assert.deepEqual(taken, [
      "10.0.0.10 is held by VM web-1 on network lan (given to it as a clone)",
      "10.0.0.11 is held by VM plain on network lan (on its kernel command line)",
    ]);
  });

  test("addresses are per network, whatever the prefix length; a released reservation is free again", () => {
    const book = new AddressBook();
    book.reserve("web-1", "lan", "10.0.0.10/24");
    assert.deepEqual(takenAddresses(["10.0.0.10/24"], "other", book.holders(vms)), []);
    assert.equal(takenAddresses(["10.0.0.10/16"], "lan", book.holders(vms)).length, 1);
    assert.equal(book.of("web-1")?.address, "10.0.0.10/24");
    book.release("web-1");
    assert.equal(book.of("web-1"), undefined);
    // Its command line's address (the origin's) is what it holds now: not 10.0.0.10.
    assert.deepEqual(takenAddresses(["10.0.0.10/24"], "lan", book.holders(vms)), []);
    book.release("never-there");
  });
});
