/**
 * Which tests the default run (`npm test`) leaves to the extended one (`npm run test:all`).
 *
 * The default run must finish in about a quarter of an hour on the 2-core CI machine, and
 * most of its time is real guests booting. A test marked `{ skip: EXTENDED }` checks again,
 * on another axis, what a default test already checks — the same snapshot on the full
 * profile with two vCPUs, the same clones through another interface, a second disk
 * controller, container limits beyond the first — so the default run still covers every
 * capability once. The extended run (PARAVM_TEST_ALL=1) runs everything.
 */
export const EXTENDED: string | false = process.env["PARAVM_TEST_ALL"] === "1" ? false : "extended run only (npm run test:all)";
