/**
 * AHCI 1.3.1 register map and the in-memory structures the HBA walks (Serial ATA AHCI
 * 1.3.1 §3 registers, §4 system memory structures; FIS layouts from SATA 3.x §10.5).
 *
 * ABAR (BAR5) layout: generic host control at 0x00..0x2b, port n's registers at
 * 0x100 + n·0x80. This HBA has one port, so the window is 0x180 bytes, rounded up to the
 * 4 KiB QEMU's ich9-ahci decodes (Linux checks BAR size ≥ 0x100 + ports·0x80).
 */

export const AHCI = {
  /** BAR5 size (a power of two, like QEMU's ich9-ahci). */
  ABAR_SIZE: 0x1000,
  /** The BAR Linux's `ahci` driver maps (AHCI_PCI_BAR_STANDARD). */
  ABAR_INDEX: 5,
  PORT_BASE: 0x100,
  PORT_STRIDE: 0x80,
  PORTS: 1,
  /** Command slots per port (CAP.NCS + 1). */
  SLOTS: 32,
  /** One command header in the command list (§4.2.2). */
  CMD_HEADER_SIZE: 32,
  /** The received-FIS area (§4.2.1). */
  RX_FIS_SIZE: 256,
  /** Command table: CFIS at 0, ACMD at 0x40, PRDT at 0x80 (§4.2.3). */
  CMD_TABLE_PRDT: 0x80,
  PRD_SIZE: 16,
  /** A PRD's data byte count field is 22 bits: at most 4 MiB per entry. */
  PRD_DBC_MASK: 0x3f_ffff,
  /** AHCI version 1.3 (VS register: major << 16 | minor). */
  VERSION: 0x0001_0300,
} as const;

/** Generic host control registers (§3.1). */
export const HBA_REG = {
  CAP: 0x00,
  GHC: 0x04,
  IS: 0x08,
  PI: 0x0c,
  VS: 0x10,
  CCC_CTL: 0x14,
  CCC_PORTS: 0x18,
  EM_LOC: 0x1c,
  EM_CTL: 0x20,
  CAP2: 0x24,
  BOHC: 0x28,
} as const;

/** HBA capabilities (§3.1.1). */
export const CAP = {
  /** Bits 4:0: ports − 1. */
  NP_SHIFT: 0,
  /** Bits 12:8: command slots − 1. */
  NCS_SHIFT: 8,
  /** AHCI mode only: GHC.AE is read-only 1. */
  SAM: 1 << 18,
  /** Bits 23:20: interface speed, 1 = Gen 1 (1.5 Gb/s). */
  ISS_SHIFT: 20,
  ISS_GEN1: 1,
  /** Command list override. */
  SCLO: 1 << 24,
  SSS: 1 << 27,
  SNCQ: 1 << 30,
  /** 64-bit addressing: CLBU, FBU, CTBAU and DBAU are decoded. */
  S64A: 1 << 31,
} as const;

/** Global host control (§3.1.2). */
export const GHC = {
  /** HBA reset: self-clearing. */
  HR: 1 << 0,
  /** Interrupt enable. */
  IE: 1 << 1,
  /** AHCI enable (read-only 1 with CAP.SAM). */
  AE: 1 << 31,
} as const;

/** Port registers, offsets from the port's base (§3.3). */
export const PORT_REG = {
  CLB: 0x00,
  CLBU: 0x04,
  FB: 0x08,
  FBU: 0x0c,
  IS: 0x10,
  IE: 0x14,
  CMD: 0x18,
  TFD: 0x20,
  SIG: 0x24,
  SSTS: 0x28,
  SCTL: 0x2c,
  SERR: 0x30,
  SACT: 0x34,
  CI: 0x38,
  SNTF: 0x3c,
  FBS: 0x40,
  DEVSLP: 0x44,
} as const;

/** Port interrupt status / enable bits (§3.3.5, §3.3.6). */
export const PXIS = {
  /** Device to Host Register FIS received. */
  DHRS: 1 << 0,
  /** PIO Setup FIS received. */
  PSS: 1 << 1,
  DSS: 1 << 2,
  SDBS: 1 << 3,
  UFS: 1 << 4,
  /** A PRD with the I bit set has been transferred. */
  DPS: 1 << 5,
  PCS: 1 << 6,
  PRCS: 1 << 22,
  /** Overflow: the device moved more data than the PRDT describes. */
  OFS: 1 << 24,
  INFS: 1 << 26,
  IFS: 1 << 27,
  HBDS: 1 << 28,
  /** Host bus fatal error: a bad pointer (command list, table, PRD) or DMA not allowed. */
  HBFS: 1 << 29,
  /** Task file error: the device reported ERR in its status. */
  TFES: 1 << 30,
  CPDS: 1 << 31,
  /** Bits an implementation without cold presence, port multipliers or mechanical switches has. */
  IMPLEMENTED: 0x7dc0_007f,
} as const;

/** Port command and status (§3.3.7). */
export const PXCMD = {
  ST: 1 << 0,
  /** Spin-up device: read-only 1 without CAP.SSS. */
  SUD: 1 << 1,
  /** Power on device: read-only 1 without cold presence detection. */
  POD: 1 << 2,
  /** Command list override: clears TFD.BSY and DRQ, self-clearing. */
  CLO: 1 << 3,
  FRE: 1 << 4,
  /** Bits 12:8: the slot the HBA is processing. */
  CCS_SHIFT: 8,
  /** FIS receive running (follows FRE). */
  FR: 1 << 14,
  /** Command list running (follows ST). */
  CR: 1 << 15,
  ATAPI: 1 << 24,
  /** Bits 31:28: interface communication control. */
  ICC_MASK: 0xf000_0000,
  /** What software may write: ST, CLO, FRE, ATAPI, ICC (SUD/POD are fixed at 1). */
  WRITABLE: (1 << 0) | (1 << 3) | (1 << 4) | (1 << 24) | 0xf000_0000,
} as const;

/** SStatus / SControl fields (SATA §14.2.1, AHCI §3.3.10–11). */
export const SSTS = {
  /** DET = 3: device present, phy communication established. */
  DET_PRESENT: 0x3,
  DET_MASK: 0xf,
  /** SPD = 1: Gen 1. */
  SPD_GEN1: 0x1 << 4,
  /** IPM = 1: interface active. */
  IPM_ACTIVE: 0x1 << 8,
} as const;

export const SCTL = {
  DET_MASK: 0xf,
  /** DET = 1: perform interface initialization (COMRESET while held). */
  DET_COMRESET: 0x1,
  /** DET = 4: take the phy offline. */
  DET_OFFLINE: 0x4,
} as const;

/** Command header DW0 (§4.2.2). */
export const CMD_HDR = {
  /** Command FIS length in dwords, bits 4:0. */
  CFL_MASK: 0x1f,
  ATAPI: 1 << 5,
  WRITE: 1 << 6,
  PREFETCH: 1 << 7,
  RESET: 1 << 8,
  BIST: 1 << 9,
  /** Clear busy upon R_OK: the HBA clears CI once the FIS is sent (software reset FISes). */
  CLEAR_BUSY: 1 << 10,
  PRDTL_SHIFT: 16,
  /** DW1: PRD byte count the HBA writes back. */
  PRDBC: 4,
  CTBA: 8,
  CTBAU: 12,
} as const;

/** PRD DW3 (§4.2.3.3): interrupt on completion, and the byte count − 1 in bits 21:0. */
export const PRD = {
  DBA: 0,
  DBAU: 4,
  DW3: 12,
  INTERRUPT: 1 << 31,
} as const;

/** FIS types (SATA §10.5). */
export const FIS_TYPE = {
  REG_H2D: 0x27,
  REG_D2H: 0x34,
  DMA_ACTIVATE: 0x39,
  DMA_SETUP: 0x41,
  DATA: 0x46,
  BIST: 0x58,
  PIO_SETUP: 0x5f,
  SET_DEVICE_BITS: 0xa1,
} as const;

/** Byte offsets inside a Register Host-to-Device FIS. */
export const H2D = {
  TYPE: 0,
  /** Bit 7: C, a command (1) or a device-control update (0). */
  FLAGS: 1,
  FLAG_COMMAND: 0x80,
  COMMAND: 2,
  FEATURES: 3,
  LBA0: 4,
  LBA1: 5,
  LBA2: 6,
  DEVICE: 7,
  LBA3: 8,
  LBA4: 9,
  LBA5: 10,
  FEATURES_EXP: 11,
  COUNT: 12,
  COUNT_EXP: 13,
  CONTROL: 15,
  /** Device control bit 2: software reset. */
  CONTROL_SRST: 0x04,
} as const;

/** Byte 1 of a device-to-host FIS: I (raise an interrupt) and, in a PIO Setup FIS, D (data to the host). */
export const FIS_FLAG = {
  INTERRUPT: 0x40,
  TO_HOST: 0x20,
} as const;

/** Alignment of the port's pointers: command list 1 KiB, FIS area 256 B, command table 128 B; PRD data addresses are even. */
export const ALIGN_MASK = {
  CLB: 0x3ff,
  FB: 0xff,
  CTBA: 0x7f,
  DBA: 0x1,
} as const;

/** Where the HBA puts each received FIS inside the port's 256-byte FIS area (§4.2.1). */
export const RX_FIS = {
  DMA_SETUP: 0x00,
  PIO_SETUP: 0x20,
  D2H_REG: 0x40,
  SET_DEVICE_BITS: 0x58,
  UNKNOWN: 0x60,
  /** Inside a device-to-host FIS: status and error bytes, PIO Setup's ending status and transfer count. */
  STATUS: 2,
  ERROR: 3,
  PIO_E_STATUS: 15,
  PIO_COUNT: 16,
  /** Register and PIO Setup FISes are 5 dwords. */
  REG_FIS_SIZE: 20,
} as const;

/** The ATA device signature a disk reports after reset (PxSIG: LBA high, mid, low, count). */
export const ATA_SIGNATURE = 0x0000_0101;

/** PxTFD before the device has sent its first D2H FIS: BSY with all other bits set. */
export const TFD_NO_DEVICE = 0x7f;

/** PCI identity: QEMU's ich9-ahci (Intel 82801IR, 8086:2922), so `qemu -M virt -device ich9-ahci` images see the same controller. */
export const AHCI_PCI = {
  VENDOR: 0x8086,
  DEVICE: 0x2922,
  REVISION: 0x02,
  /** Mass storage, SATA, AHCI 1.0 programming interface: what Linux's `ahci` matches by class. */
  CLASS: 0x01_06_01,
} as const;
