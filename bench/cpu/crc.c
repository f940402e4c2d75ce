/* paravm cpu bench: CRC-16/CCITT (bitwise: branchy) and CRC-32 (table-driven: loads). */
#include "bench.h"

static uint32_t crc32_table[256];

void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    crc32_table[i] = c;
  }
}

uint16_t crc16_byte(uint16_t crc, uint8_t b) {
  crc ^= (uint16_t)b << 8;
  for (int k = 0; k < 8; k++) {
    if (crc & 0x8000)
      crc = (uint16_t)((crc << 1) ^ 0x1021);
    else
      crc = (uint16_t)(crc << 1);
  }
  return crc;
}

uint16_t crc16_u16(uint16_t crc, uint16_t v) {
  crc = crc16_byte(crc, (uint8_t)v);
  return crc16_byte(crc, (uint8_t)(v >> 8));
}

uint16_t crc16_u32(uint16_t crc, uint32_t v) {
  crc = crc16_u16(crc, (uint16_t)v);
  return crc16_u16(crc, (uint16_t)(v >> 16));
}

uint32_t crc32_byte(uint32_t crc, uint8_t b) {
  return crc32_table[(crc ^ b) & 0xff] ^ (crc >> 8);
}

uint32_t crc32_u32(uint32_t crc, uint32_t v) {
  for (int i = 0; i < 4; i++) crc = crc32_byte(crc, (uint8_t)(v >> (8 * i)));
  return crc;
}
