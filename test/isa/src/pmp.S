/*
 * pmp: physical memory protection. TOR, NA4 and NAPOT regions checked from
 * U- and S-mode (access faults 1/5/7 with mtval = the address), M-mode not
 * affected unless the entry is locked, a locked entry ignores writes, the
 * lowest-numbered matching entry wins, no matching entry for S/U -> fault,
 * pmpcfg/pmpaddr WARL read-backs as QEMU shows them. Entry 15 (set by the
 * runtime) grants everything; entries 0..14 override it.
 */
#include "test.h"

/* U snippet with s2 = address; expect an access fault of cause at s2 */
.macro U_FAULT num, name, code, cause
    TRAP_EXPECT .Lr\@
    ENTER_MODE PRV_U, \code
.Lr\@:
    CHECK_TRAPR \num, "\name", \cause, s2, \code
.endm
.macro U_OK num, name, code
    RUN_IN PRV_U, \code
    CHECK_NOTRAP \num, "\name"
.endm

TEST_BEGIN pmp
    la s0, region               /* 4 KiB aligned, 4 KiB long */
    li t0, 0x5555
    sd t0, 0(s0)
    sd t0, 8(s0)

    /* ---- WARL read-backs ---- */
    li t0, -1
    csrw pmpaddr0, t0
    csrr t1, pmpaddr0
    RECORD 1, pmpaddr-all-ones, t1
    csrw pmpaddr0, zero
    li t0, 0x02                 /* W without R: reserved */
    csrw pmpcfg0, t0
    csrr t1, pmpcfg0
    RECORD 2, pmpcfg-w-only, t1
    li t0, 0x03
    csrw pmpcfg0, t0
    csrr t1, pmpcfg0
    CHECK 3, pmpcfg-rw-off, t1, 0x03
    csrw pmpcfg0, zero
    li t0, 0x1f1e1d1c1b1a1918 & 0x9f9f9f9f9f9f9f9f
    csrw pmpcfg2, t0
    csrr t1, pmpcfg2
    RECORD 4, pmpcfg2-readback, t1
    li t0, (PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 56
    csrw pmpcfg2, t0
    csrr t1, pmpcfg2
    CHECKR 5, pmpcfg2-entry15, t1, t0
    /* NAPOT address encoding reads back unchanged (granularity 4 bytes) */
    srli t0, s0, 2
    ori t0, t0, 0x1ff           /* 4 KiB NAPOT */
    csrw pmpaddr3, t0
    csrr t1, pmpaddr3
    CHECKR 6, pmpaddr-napot, t1, t0
    csrw pmpaddr3, zero

    /* ---- TOR: [region, region + 4K) read-only for U ---- */
    srli t0, s0, 2
    csrw pmpaddr0, t0
    li t1, 4096
    add t0, s0, t1
    srli t0, t0, 2
    csrw pmpaddr1, t0
    li t0, (PMP_TOR | PMP_R) << 8
    csrw pmpcfg0, t0
    mv s2, s0
    U_OK 7, tor-u-load, u_load
    CHECK 8, tor-u-load-value, t1, 0x5555
    U_FAULT 9, tor-u-store, u_store, CAUSE_STORE_ACCESS
    addi s2, s0, 0x7f8
    U_FAULT 10, tor-u-store-inside, u_store, CAUSE_STORE_ACCESS
    li t0, 4096
    add s2, s0, t0
    U_OK 11, tor-above-top, u_store           /* entry 15 matches there */
    addi s2, s0, -8
    U_OK 12, tor-below-base, u_store
    mv s2, s0
    U_FAULT 13, tor-u-amo, u_amo, CAUSE_STORE_ACCESS
    /* M-mode ignores an unlocked entry */
    sd zero, 0(s0)
    ld t1, 0(s0)
    CHECK 14, tor-m-store-ok, t1, 0
    /* S-mode is checked too */
    mv s2, s0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, u_store
1:  CHECK_TRAPR 15, tor-s-store, CAUSE_STORE_ACCESS, s2, u_store
    csrw pmpcfg0, zero

    /* ---- NA4: one word with no permission ---- */
    addi t0, s0, 16
    srli t0, t0, 2
    csrw pmpaddr2, t0
    li t0, PMP_NA4 << 16
    csrw pmpcfg0, t0
    addi s2, s0, 16
    U_FAULT 16, na4-u-load, u_load_w, CAUSE_LOAD_ACCESS
    addi s2, s0, 20
    U_OK 17, na4-next-word, u_load_w
    addi s2, s0, 12
    U_OK 18, na4-prev-word, u_load_w
    /* an 8-byte access that overlaps the word partially fails */
    addi s2, s0, 16
    U_FAULT 19, na4-dword, u_load, CAUSE_LOAD_ACCESS
    csrw pmpcfg0, zero

    /* ---- NAPOT: a 4 KiB code page readable, not executable, for U ---- */
    la s3, code_page
    srli t0, s3, 2
    ori t0, t0, 0x1ff
    csrw pmpaddr4, t0
    li t0, (PMP_NAPOT | PMP_R) << 32
    csrw pmpcfg0, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, code_page
1:  CHECK_TRAPR 20, napot-u-fetch, CAUSE_FETCH_ACCESS, s3, code_page
    mv s2, s3
    U_OK 21, napot-u-read, u_load
    /* priority: a lower entry granting X wins over entry 4 */
    srli t0, s3, 2
    ori t0, t0, 0x1ff
    csrw pmpaddr3, t0
    li t0, ((PMP_NAPOT | PMP_R | PMP_X) << 24) | ((PMP_NAPOT | PMP_R) << 32)
    csrw pmpcfg0, t0
    li t3, 0
    RUN_IN PRV_U, code_page
    CHECK 22, lowest-entry-wins, t3, 0x42
    csrw pmpcfg0, zero
    /* pmpcfg1 and pmpcfg3 do not exist on RV64 */
    TRAP_EXPECT 1f
2:  csrr t1, pmpcfg1
1:  CHECK_TRAP 23, pmpcfg1-rv64-illegal, CAUSE_ILLEGAL, 0x3a102373, 2b

    /* ---- no active entry at all: QEMU 7.2 makes an MRET to S/U an
     * illegal instruction (mtval = the mret) instead of letting the fetch
     * fail. Recorded. ---- */
    csrw pmpcfg2, zero          /* entry 15 off: no entry is active */
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_load
1:  RECORD_TRAP 24, no-entries-mret-to-u
    /* ---- no entry matches (one unrelated entry active): S/U accesses fail ---- */
    li t0, 0x1000 >> 2
    csrw pmpaddr0, t0
    li t0, PMP_NA4 | PMP_R
    csrw pmpcfg0, t0
    TRAP_EXPECT 1f
    ENTER_MODE PRV_U, u_load
1:  la t4, u_load
    CHECK_TRAPR 25, no-match-u-fetch, CAUSE_FETCH_ACCESS, t4, u_load
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, u_load
1:  la t4, u_load
    CHECK_TRAPR 26, no-match-s-fetch, CAUSE_FETCH_ACCESS, t4, u_load
    ld t1, 0(s0)                /* M-mode still fine */
    CHECK 27, no-match-m-ok, t1, 0
    li t0, (PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 56
    csrw pmpcfg2, t0

    /* ---- locked entry: applies to M-mode, ignores writes ---- */
    addi t0, s0, 64
    srli t0, t0, 2
    csrw pmpaddr5, t0
    li t0, (PMP_L | PMP_NA4 | PMP_R) << 40
    csrw pmpcfg0, t0
    addi s2, s0, 64
    TRAP_EXPECT 1f
2:  sw zero, 0(s2)
1:  CHECK_TRAPR 28, locked-m-store, CAUSE_STORE_ACCESS, s2, 2b
    lw t1, 0(s2)
    CHECK 29, locked-m-load-ok, t1, 0
    csrw pmpaddr5, zero
    csrr t1, pmpaddr5
    addi t0, s0, 64
    srli t0, t0, 2
    CHECKR 30, locked-addr-write-ignored, t1, t0
    csrw pmpcfg0, zero
    csrr t1, pmpcfg0
    CHECK 31, locked-cfg-write-ignored, t1, (PMP_L | PMP_NA4 | PMP_R) << 40
    TRAP_EXPECT 1f
2:  sw zero, 0(s2)
1:  CHECK_TRAPR 32, locked-still-enforced, CAUSE_STORE_ACCESS, s2, 2b
    /* other entries in the same pmpcfg register stay writable */
    li t0, ((PMP_L | PMP_NA4 | PMP_R) << 40) | (PMP_R << 48)
    csrw pmpcfg0, t0
    csrr t1, pmpcfg0
    CHECKR 33, unlocked-neighbour-writable, t1, t0
TEST_END

u_load:
    ld t1, 0(s2)
    RETURN_TO_M
u_load_w:
    lw t1, 0(s2)
    RETURN_TO_M
u_store:
    sd t1, 0(s2)
    RETURN_TO_M
u_amo:
    amoadd.d t1, t1, (s2)
    RETURN_TO_M

    .balign 4096
code_page:
    li t3, 0x42
    RETURN_TO_M
    .balign 4096

    .section .pages, "aw", @nobits
    .balign 4096
region: .skip 4096
