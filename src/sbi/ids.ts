/**
 * SBI constants: error codes, extension IDs and function IDs (facts from the SBI v2.0
 * specification and Linux arch/riscv/include/asm/sbi.h).
 */
/** Standard SBI error codes (spec v2.0 table 1). */
export const SbiError = {
  SUCCESS: 0,
  ERR_FAILED: -1,
  NOT_SUPPORTED: -2,
  INVALID_PARAM: -3,
  DENIED: -4,
  INVALID_ADDRESS: -5,
  ALREADY_AVAILABLE: -6,
  ALREADY_STARTED: -7,
  ALREADY_STOPPED: -8,
  NO_SHMEM: -9,
} as const;

/** Extension IDs. */
export const Eid = {
  LEGACY_SET_TIMER: 0x00,
  LEGACY_CONSOLE_PUTCHAR: 0x01,
  LEGACY_CONSOLE_GETCHAR: 0x02,
  LEGACY_CLEAR_IPI: 0x03,
  LEGACY_SEND_IPI: 0x04,
  LEGACY_REMOTE_FENCE_I: 0x05,
  LEGACY_REMOTE_SFENCE_VMA: 0x06,
  LEGACY_REMOTE_SFENCE_VMA_ASID: 0x07,
  LEGACY_SHUTDOWN: 0x08,
  BASE: 0x10,
  TIME: 0x54494d45, // "TIME"
  IPI: 0x735049, // "sPI"
  RFENCE: 0x52464e43, // "RFNC"
  HSM: 0x48534d, // "HSM"
  SRST: 0x53525354, // "SRST"
  DBCN: 0x4442434e, // "DBCN"
  STA: 0x535441, // "STA"
} as const;

/** Function IDs per extension. */
export const Fid = {
  BASE: {
    GET_SPEC_VERSION: 0,
    GET_IMPL_ID: 1,
    GET_IMPL_VERSION: 2,
    PROBE_EXTENSION: 3,
    GET_MVENDORID: 4,
    GET_MARCHID: 5,
    GET_MIMPID: 6,
  },
  TIME: { SET_TIMER: 0 },
  IPI: { SEND_IPI: 0 },
  RFENCE: {
    REMOTE_FENCE_I: 0,
    REMOTE_SFENCE_VMA: 1,
    REMOTE_SFENCE_VMA_ASID: 2,
    // 3..6: HFENCE variants, hypervisor extension only: NOT_SUPPORTED here.
  },
  HSM: { HART_START: 0, HART_STOP: 1, HART_GET_STATUS: 2, HART_SUSPEND: 3 },
  SRST: { SYSTEM_RESET: 0 },
  DBCN: { CONSOLE_WRITE: 0, CONSOLE_READ: 1, CONSOLE_WRITE_BYTE: 2 },
  STA: { SET_SHMEM: 0 },
} as const;
