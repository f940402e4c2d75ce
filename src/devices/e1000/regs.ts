/**
 * Intel 82540EM (8254x family) constants: register offsets in BAR0, register bits,
 * descriptor layouts, the PHY's registers and the EEPROM map. Names follow the 8254x
 * Software Developer's Manual and Linux's drivers/net/ethernet/intel/e1000/e1000_hw.h,
 * so a register named here can be looked up in either.
 */

/** PCI identity of the 82540EM ("Intel PRO/1000 MT Desktop Adapter"). */
export const E1000_PCI = {
  VENDOR: 0x8086,
  DEVICE: 0x100e,
  /** QEMU's e1000 reports revision 3; Linux only looks at revisions of the 82542. */
  REVISION: 0x03,
  /** The retail board's subsystem: Intel 8086:001e, PRO/1000 MT Desktop. */
  SUBSYSTEM_VENDOR: 0x8086,
  SUBSYSTEM: 0x001e,
  /** BAR0: register space. BAR1: IOADDR/IODATA window (e1000_is_need_ioport wants it). */
  BAR0_SIZE: 0x2_0000,
  BAR1_SIZE: 0x40,
} as const;

/** BAR0 register offsets. */
export const REG = {
  CTRL: 0x0000,
  STATUS: 0x0008,
  EECD: 0x0010,
  EERD: 0x0014,
  CTRL_EXT: 0x0018,
  MDIC: 0x0020,
  FCAL: 0x0028,
  FCAH: 0x002c,
  FCT: 0x0030,
  VET: 0x0038,
  ICR: 0x00c0,
  ITR: 0x00c4,
  ICS: 0x00c8,
  IMS: 0x00d0,
  IMC: 0x00d8,
  RCTL: 0x0100,
  FCTTV: 0x0170,
  TXCW: 0x0178,
  RXCW: 0x0180,
  TCTL: 0x0400,
  TIPG: 0x0410,
  AIT: 0x0458,
  LEDCTL: 0x0e00,
  PBA: 0x1000,
  FCRTL: 0x2160,
  FCRTH: 0x2168,
  RDBAL: 0x2800,
  RDBAH: 0x2804,
  RDLEN: 0x2808,
  RDH: 0x2810,
  RDT: 0x2818,
  RDTR: 0x2820,
  RXDCTL: 0x2828,
  RADV: 0x282c,
  RSRPD: 0x2c00,
  TXDMAC: 0x3000,
  TDBAL: 0x3800,
  TDBAH: 0x3804,
  TDLEN: 0x3808,
  TDH: 0x3810,
  TDT: 0x3818,
  TIDV: 0x3820,
  TXDCTL: 0x3828,
  TADV: 0x382c,
  TSPMT: 0x3830,
  RXCSUM: 0x5000,
  MTA: 0x5200,
  RA: 0x5400,
  VFTA: 0x5600,
  WUC: 0x5800,
  WUFC: 0x5808,
  WUS: 0x5810,
  MANC: 0x5820,
} as const;

/** Table sizes in 32-bit registers. */
export const TABLE = {
  MTA: 128,
  /** 16 receive addresses, each a RAL/RAH pair. */
  RA: 32,
  VFTA: 128,
} as const;

/** Statistics registers (0x4000..0x40ff), all clear-on-read. */
export const STAT = {
  CRCERRS: 0x4000, ALGNERRC: 0x4004, SYMERRS: 0x4008, RXERRC: 0x400c, MPC: 0x4010, SCC: 0x4014,
  ECOL: 0x4018, MCC: 0x401c, LATECOL: 0x4020, COLC: 0x4028, DC: 0x4030, TNCRS: 0x4034, SEC: 0x4038,
  CEXTERR: 0x403c, RLEC: 0x4040, XONRXC: 0x4048, XONTXC: 0x404c, XOFFRXC: 0x4050, XOFFTXC: 0x4054,
  FCRUC: 0x4058, PRC64: 0x405c, PRC127: 0x4060, PRC255: 0x4064, PRC511: 0x4068, PRC1023: 0x406c,
  PRC1522: 0x4070, GPRC: 0x4074, BPRC: 0x4078, MPRC: 0x407c, GPTC: 0x4080, GORCL: 0x4088,
  GORCH: 0x408c, GOTCL: 0x4090, GOTCH: 0x4094, RNBC: 0x40a0, RUC: 0x40a4, RFC: 0x40a8, ROC: 0x40ac,
  RJC: 0x40b0, MGTPRC: 0x40b4, MGTPDC: 0x40b8, MGTPTC: 0x40bc, TORL: 0x40c0, TORH: 0x40c4,
  TOTL: 0x40c8, TOTH: 0x40cc, TPR: 0x40d0, TPT: 0x40d4, PTC64: 0x40d8, PTC127: 0x40dc, PTC255: 0x40e0,
  PTC511: 0x40e4, PTC1023: 0x40e8, PTC1522: 0x40ec, MPTC: 0x40f0, BPTC: 0x40f4, TSCTC: 0x40f8,
  TSCTFC: 0x40fc,
  FIRST: 0x4000,
  LAST: 0x40fc,
} as const;

/** I/O BAR (BAR1) registers: indirect access to any BAR0 register. */
export const IOREG = { IOADDR: 0x0, IODATA: 0x4, ADDR_MASK: 0x1_fffc } as const;

export const CTRL = {
  FD: 1 << 0,
  LRST: 1 << 3,
  ASDE: 1 << 5,
  SLU: 1 << 6,
  ILOS: 1 << 7,
  FRCSPD: 1 << 11,
  FRCDPX: 1 << 12,
  RST: 1 << 26,
  RFCE: 1 << 27,
  TFCE: 1 << 28,
  VME: 1 << 30,
  PHY_RST: 1 << 31,
} as const;

export const STATUS = {
  FD: 1 << 0,
  LU: 1 << 1,
  TXOFF: 1 << 4,
  SPEED_1000: 1 << 7,
} as const;

export const EECD = {
  SK: 1 << 0,
  CS: 1 << 1,
  DI: 1 << 2,
  DO: 1 << 3,
  FWE_MASK: 3 << 4,
  REQ: 1 << 6,
  GNT: 1 << 7,
  PRES: 1 << 8,
  /** Clear: a 64-word (93C46-style) EEPROM. */
  SIZE: 1 << 9,
  /** The bits software drives. */
  WRITABLE: (1 << 0) | (1 << 1) | (1 << 2) | (3 << 4) | (1 << 6),
} as const;

/** EERD on the 82540 (START bit 0, DONE bit 4, address bits 15:8, data bits 31:16). */
export const EERD = { START: 1 << 0, DONE: 1 << 4, ADDR_SHIFT: 8, DATA_SHIFT: 16 } as const;

export const MDIC = {
  DATA_MASK: 0xffff,
  REG_SHIFT: 16,
  PHY_SHIFT: 21,
  OP_WRITE: 1 << 26,
  OP_READ: 1 << 27,
  READY: 1 << 28,
  INT_EN: 1 << 29,
  ERROR: 1 << 30,
} as const;

/** Interrupt causes (ICR, ICS, IMS, IMC share the layout). */
export const ICR = {
  TXDW: 1 << 0,
  TXQE: 1 << 1,
  LSC: 1 << 2,
  RXSEQ: 1 << 3,
  RXDMT0: 1 << 4,
  RXO: 1 << 6,
  RXT0: 1 << 7,
  MDAC: 1 << 9,
  RXCFG: 1 << 10,
  TXD_LOW: 1 << 15,
  SRPD: 1 << 16,
  /** Causes the 82540 implements. */
  VALID: 0x0001_fedf,
} as const;

export const RCTL = {
  EN: 1 << 1,
  SBP: 1 << 2,
  UPE: 1 << 3,
  MPE: 1 << 4,
  LPE: 1 << 5,
  RDMTS_SHIFT: 8,
  MO_SHIFT: 12,
  BAM: 1 << 15,
  BSIZE_SHIFT: 16,
  VFE: 1 << 18,
  BSEX: 1 << 25,
  SECRC: 1 << 26,
} as const;

export const TCTL = { EN: 1 << 1, PSP: 1 << 3 } as const;

export const RXCSUM = { IPOFL: 1 << 8, TUOFL: 1 << 9 } as const;

export const RAH = { AV: 1 << 31, AS_MASK: 3 << 16, WRITABLE: 0x8003_ffff } as const;

/** Transmit descriptor command bits, as they sit in bits 31:24 of the second dword. */
export const TXD_CMD = {
  EOP: 0x01,
  IFCS: 0x02,
  /** Legacy: insert checksum. Context/data: TSE. */
  IC: 0x04,
  TSE: 0x04,
  RS: 0x08,
  RPS: 0x10,
  DEXT: 0x20,
  VLE: 0x40,
  IDE: 0x80,
} as const;

/** Context descriptor TUCMD bits (same byte as the command). */
export const TUCMD = { TCP: 0x01, IP: 0x02, TSE: 0x04 } as const;

export const TXD = {
  SIZE: 16,
  DTYP_CONTEXT: 0,
  DTYP_DATA: 1,
  STA_DD: 0x01,
  POPTS_IXSM: 0x01,
  POPTS_TXSM: 0x02,
} as const;

export const RXD = {
  SIZE: 16,
  STAT_DD: 0x01,
  STAT_EOP: 0x02,
  STAT_IXSM: 0x04,
  STAT_VP: 0x08,
  STAT_TCPCS: 0x20,
  STAT_IPCS: 0x40,
  ERR_TCPE: 0x20,
  ERR_IPE: 0x40,
  ERR_RXE: 0x80,
} as const;

/** Descriptor rings: RDLEN/TDLEN are multiples of 128 bytes (8 descriptors); the low 7 bits read as 0. */
export const RING = { LEN_MASK: 0x000f_ff80, BASE_LOW_MASK: 0xffff_fff0, INDEX_MASK: 0xffff } as const;

export const ETH = {
  HEADER: 14,
  /** Shortest frame on the wire without FCS; TCTL.PSP pads to it. */
  MIN_FRAME: 60,
  FCS: 4,
  VLAN_TAG: 4,
  /** Longest frame (with FCS and one VLAN tag) accepted without RCTL.LPE. */
  MAX_NORMAL: 1522,
  /** Longest frame the 82540 accepts with RCTL.LPE. */
  MAX_JUMBO: 16384,
  TYPE_IPV4: 0x0800,
  TYPE_IPV6: 0x86dd,
  TYPE_VLAN: 0x8100,
} as const;

/** The M88E1011 PHY at MDIO address 1 (e1000_detect_gig_phy wants ID 0x01410c2x on an 82540). */
export const PHY = {
  ADDRESS: 1,
  BMCR: 0x00,
  BMSR: 0x01,
  ID1: 0x02,
  ID2: 0x03,
  ANAR: 0x04,
  ANLPAR: 0x05,
  ANER: 0x06,
  NPTX: 0x07,
  GTCR: 0x09,
  GTSR: 0x0a,
  ESR: 0x0f,
  PSCR: 0x10,
  PSSR: 0x11,
  EPSCR: 0x14,
  REGS: 32,
  ID1_VALUE: 0x0141,
  /** M88E1011 model 0x0c2, revision 2. */
  ID2_VALUE: 0x0c22,
} as const;

export const BMCR = {
  SPEED_MSB: 1 << 6,
  FULL_DUPLEX: 1 << 8,
  RESTART_AN: 1 << 9,
  POWER_DOWN: 1 << 11,
  AN_ENABLE: 1 << 12,
  RESET: 1 << 15,
} as const;

export const BMSR = {
  LINK: 1 << 2,
  AN_COMPLETE: 1 << 5,
  /** Capabilities: extended regs, AN able, preamble suppression, extended status, 10/100 HD/FD. */
  CAPS: 0x7949,
} as const;

export const PSSR = {
  LINK: 1 << 10,
  RESOLVED: 1 << 11,
  FULL_DUPLEX: 1 << 13,
  SPEED_1000: 2 << 14,
} as const;

/** The 64-word microwire EEPROM. */
export const EEPROM = {
  WORDS: 64,
  ADDR_BITS: 6,
  /** Words 0..2: the MAC address, low byte first. */
  MAC: 0,
  INIT_CONTROL1: 0x0a,
  SUBSYSTEM_ID: 0x0b,
  SUBSYSTEM_VENDOR: 0x0c,
  DEVICE_ID: 0x0d,
  VENDOR_ID: 0x0e,
  INIT_CONTROL2: 0x0f,
  CHECKSUM: 0x3f,
  /** Words 0x00..0x3f sum to this (EEPROM_SUM). */
  SUM: 0xbaba,
  /** Microwire opcodes (the two bits after the start bit). */
  OP_READ: 2,
  OP_WRITE: 1,
  OP_ERASE: 3,
  OP_MISC: 0,
} as const;

/** Reset value of PBA: 48 KB receive, 16 KB transmit of the 64 KB packet buffer. */
export const PBA_DEFAULT = 0x0010_0030;
export const PACKET_BUFFER_KB = 64;

/** BAR0 in 32-bit registers. */
export const REG_WORDS = E1000_PCI.BAR0_SIZE >>> 2;

/** Registers that just hold their writable bits: [offset, writable mask, reset value]. */
const PLAIN: ReadonlyArray<readonly [number, number, number]> = [
  [REG.CTRL_EXT, 0xffff_ffff, 0],
  [REG.FCAL, 0xffff_ffff, 0],
  [REG.FCAH, 0xffff, 0],
  [REG.FCT, 0xffff, 0],
  [REG.VET, 0xffff, ETH.TYPE_VLAN],
  [REG.ITR, 0xffff, 0],
  [REG.RCTL, 0x07ff_fffe, 0],
  [REG.FCTTV, 0xffff, 0],
  [REG.TXCW, 0xc000_ffff, 0],
  [REG.TCTL, 0x03ff_fffe, 0],
  [REG.TIPG, 0x3fff_ffff, 0],
  [REG.AIT, 0xffff, 0],
  [REG.LEDCTL, 0xffff_ffff, 0x0706_8302],
  [REG.PBA, 0xffff, PBA_DEFAULT & 0xffff],
  [REG.FCRTL, 0x8000_fff8, 0],
  [REG.FCRTH, 0xfff8, 0],
  [REG.RDBAL, RING.BASE_LOW_MASK, 0],
  [REG.RDBAH, 0xffff_ffff, 0],
  [REG.RDLEN, RING.LEN_MASK, 0],
  [REG.RDH, RING.INDEX_MASK, 0],
  [REG.RDT, RING.INDEX_MASK, 0],
  [REG.RDTR, 0xffff, 0],
  [REG.RXDCTL, 0xffff_ffff, 0],
  [REG.RADV, 0xffff, 0],
  [REG.RSRPD, 0xfff, 0],
  [REG.TXDMAC, 1, 0],
  [REG.TDBAL, RING.BASE_LOW_MASK, 0],
  [REG.TDBAH, 0xffff_ffff, 0],
  [REG.TDLEN, RING.LEN_MASK, 0],
  [REG.TDH, RING.INDEX_MASK, 0],
  [REG.TDT, RING.INDEX_MASK, 0],
  [REG.TIDV, 0xffff, 0],
  [REG.TXDCTL, 0xffff_ffff, 0],
  [REG.TADV, 0xffff, 0],
  [REG.TSPMT, 0xffff_ffff, 0],
  [REG.RXCSUM, 0x3ff, 0],
  [REG.WUC, 0xffff_ffff, 0],
  [REG.WUFC, 0xffff_ffff, 0],
  [REG.WUS, 0xffff_ffff, 0],
  [REG.MANC, 0xffff_ffff, 0],
];

/**
 * Per-register tables, indexed by offset / 4: the writable mask of every register that
 * stores what is written (0 = not such a register: special, read-only or unimplemented),
 * reset values, and names for the exit counters.
 */
export const REG_WMASK = new Uint32Array(REG_WORDS);
export const REG_RESET = new Uint32Array(REG_WORDS);
export const REG_NAMES: string[] = new Array<string>(REG_WORDS).fill("unknown");
for (const [off, mask, reset] of PLAIN) {
  REG_WMASK[off >> 2] = mask;
  REG_RESET[off >> 2] = reset;
}
for (const [name, off] of Object.entries(REG)) REG_NAMES[off >> 2] = name;
for (const [name, off] of Object.entries(STAT)) if (name !== "FIRST" && name !== "LAST") REG_NAMES[off >> 2] = name;
for (const [table, n] of Object.entries(TABLE)) {
  const base = REG[table as keyof typeof TABLE] >> 2;
  for (let i = 0; i < n; i++) {
    REG_NAMES[base + i] = table;
    REG_WMASK[base + i] = table === "RA" && i % 2 === 1 ? RAH.WRITABLE : 0xffff_ffff;
  }
}

/** CTRL after reset: full duplex, auto speed detection, link up forced (the EEPROM defaults). */
export const CTRL_RESET = CTRL.FD | CTRL.ASDE | CTRL.SLU;
