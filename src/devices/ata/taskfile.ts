/**
 * The task file's Status and Error register bits (ATA/ATAPI-7 §6, ACS-2 §6.1–6.2), shared
 * by both disk front ends: the PIO ATA device reports them in its registers, the AHCI port
 * in the D2H register FIS and PxTFD.
 */

export const ATA_STATUS = {
  ERR: 0x01,
  DRQ: 0x08,
  DSC: 0x10,
  DF: 0x20,
  DRDY: 0x40,
  BSY: 0x80,
} as const;

export const ATA_ERROR = {
  AMNF: 0x01,
  ABRT: 0x04,
  IDNF: 0x10,
  UNC: 0x40,
} as const;
