/** Architectural constants from the RISC-V privileged specification (v1.12), named once. */

export const Priv = { U: 0, S: 1, M: 3 } as const;

/** mstatus bits in the low 32 bits (the high half holds UXL/SXL = 2 and SD). */
export const MSTATUS = {
  SIE: 1 << 1,
  MIE: 1 << 3,
  SPIE: 1 << 5,
  UBE: 1 << 6,
  MPIE: 1 << 7,
  SPP: 1 << 8,
  VS: 3 << 9,
  MPP: 3 << 11,
  MPP_SHIFT: 11,
  FS: 3 << 13,
  FS_SHIFT: 13,
  XS: 3 << 15,
  MPRV: 1 << 17,
  SUM: 1 << 18,
  MXR: 1 << 19,
  TVM: 1 << 20,
  TW: 1 << 21,
  TSR: 1 << 22,
} as const;

/** mstatus high half: UXL = SXL = 2 (64-bit), read-only. SD (bit 63) is derived from FS. */
export const MSTATUS_HI_FIXED = 0x0000000a;
export const MSTATUS_HI_SD = 0x80000000 | 0;

/** FS / XS field values. */
export const FsState = { Off: 0, Initial: 1, Clean: 2, Dirty: 3 } as const;

/** Interrupt numbers (bit positions in mip/mie) and their priority order (highest first). */
export const IRQ = { SSI: 1, MSI: 3, STI: 5, MTI: 7, SEI: 9, MEI: 11 } as const;
export const IRQ_PRIORITY = [IRQ.MEI, IRQ.MSI, IRQ.MTI, IRQ.SEI, IRQ.SSI, IRQ.STI] as const;
export const MIP_S_BITS = (1 << IRQ.SSI) | (1 << IRQ.STI) | (1 << IRQ.SEI);
export const MIP_ALL = MIP_S_BITS | (1 << IRQ.MSI) | (1 << IRQ.MTI) | (1 << IRQ.MEI);

/** Synchronous exception causes. */
export const Cause = {
  InsnMisaligned: 0,
  InsnAccessFault: 1,
  IllegalInsn: 2,
  Breakpoint: 3,
  LoadMisaligned: 4,
  LoadAccessFault: 5,
  StoreMisaligned: 6,
  StoreAccessFault: 7,
  EcallU: 8,
  EcallS: 9,
  EcallM: 11,
  InsnPageFault: 12,
  LoadPageFault: 13,
  StorePageFault: 15,
} as const;

/** Exceptions that medeleg may delegate (ecall from M and the reserved causes stay M-only). */
export const MEDELEG_MASK = 0xb3ff;

/** misa: MXL=2 (RV64) and extensions I M A F D C S U. */
export const MISA_LO = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
export const MISA_HI = 0x80000000 | 0;

/** CSR numbers. */
export const CSR = {
  fflags: 0x001,
  frm: 0x002,
  fcsr: 0x003,
  cycle: 0xc00,
  time: 0xc01,
  instret: 0xc02,
  hpmcounter3: 0xc03,
  hpmcounter31: 0xc1f,
  sstatus: 0x100,
  sie: 0x104,
  stvec: 0x105,
  scounteren: 0x106,
  senvcfg: 0x10a,
  sscratch: 0x140,
  sepc: 0x141,
  scause: 0x142,
  stval: 0x143,
  sip: 0x144,
  satp: 0x180,
  mvendorid: 0xf11,
  marchid: 0xf12,
  mimpid: 0xf13,
  mhartid: 0xf14,
  mconfigptr: 0xf15,
  mstatus: 0x300,
  misa: 0x301,
  medeleg: 0x302,
  mideleg: 0x303,
  mie: 0x304,
  mtvec: 0x305,
  mcounteren: 0x306,
  menvcfg: 0x30a,
  mcountinhibit: 0x320,
  mhpmevent3: 0x323,
  mhpmevent31: 0x33f,
  mscratch: 0x340,
  mepc: 0x341,
  mcause: 0x342,
  mtval: 0x343,
  mip: 0x344,
  pmpcfg0: 0x3a0,
  pmpcfg15: 0x3af,
  pmpaddr0: 0x3b0,
  pmpaddr63: 0x3ef,
  mcycle: 0xb00,
  minstret: 0xb02,
  mhpmcounter3: 0xb03,
  mhpmcounter31: 0xb1f,
} as const;

/** satp.MODE values we implement. */
export const SatpMode = { Bare: 0, Sv39: 8 } as const;

/** Sv39 page-table entry bits. */
export const PTE = { V: 1, R: 2, W: 4, X: 8, U: 16, G: 32, A: 64, D: 128 } as const;

/** PMP configuration byte fields. */
export const PMPCFG = { R: 1, W: 2, X: 4, A_SHIFT: 3, A: 3 << 3, L: 0x80 } as const;
export const PmpMode = { Off: 0, Tor: 1, Na4: 2, Napot: 3 } as const;
export const PMP_ENTRIES = 16;

/** Memory access kinds, also the index of each software TLB. */
export const Access = { Fetch: 0, Load: 1, Store: 2 } as const;

/** Slots of Hart.csr64 (each a lo/hi pair). */
export const Csr64 = {
  MTVEC: 0,
  STVEC: 2,
  MEPC: 4,
  SEPC: 6,
  MSCRATCH: 8,
  SSCRATCH: 10,
  MTVAL: 12,
  STVAL: 14,
  SATP: 16,
  MCAUSE: 18,
  SCAUSE: 20,
} as const;
