/*
 * sv39: page tables built by the program; S- and U-mode accesses through
 * 4 KiB, 2 MiB and 1 GiB pages; page faults (12/13/15, stval = the virtual
 * address) for invalid PTEs, W without R, misaligned superpages, missing
 * permissions, U pages from S (SUM), MXR, execute-only and non-executable
 * pages, non-canonical addresses; A/D handling (QEMU 7.2 sets A and D in
 * the PTE: recorded); SFENCE.VMA (all, by address, by ASID) after a PTE
 * change; MPRV with MPP = S translating M-mode loads and stores.
 */
#include "test.h"

#define VA_L0   0x600000            /* 4 KiB pages: VA_L0 + i * 0x1000 */
#define VA_2M   0x200000            /* 2 MiB page -> 0x8000_0000 */
#define VA_2M_BAD 0x400000          /* misaligned 2 MiB page */
#define VA_1G   0x100000000         /* 1 GiB page -> 0x8000_0000 */
#define VA_1G_BAD 0x140000000       /* misaligned 1 GiB page */
#define VA_INV  0x180000000         /* invalid L2 entry */
#define VA_WNR  0x1c0000000         /* W without R */
#define LEAF_RWX (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)

/* table[idx] = leaf/pointer PTE for the physical address in pareg */
.macro SETPTE table, idx, pareg, flags
    srli t0, \pareg, 12
    slli t0, t0, 10
    li t1, \flags
    or t0, t0, t1
    la t1, \table
    sd t0, (\idx * 8)(t1)
.endm
.macro GETPTE reg, table, idx
    la \reg, \table
    ld \reg, (\idx * 8)(\reg)
.endm

/* run the S snippet `code` with s2 = va; check a page fault with stval = va */
.macro S_FAULT num, name, code, va, cause
    li s2, \va
    TRAP_EXPECT .Lr\@
    ENTER_MODE PRV_S, \code
.Lr\@:
    CHECK_TRAPR \num, "\name", \cause, s2, \code
.endm
/* the same, expecting no fault; t1 is the loaded value */
.macro S_OK num, name, code, va, exp
    li s2, \va
    RUN_IN PRV_S, \code
    CHECK_NOTRAP \num, "\name-notrap"
    CHECK \num, "\name", t1, \exp
.endm

TEST_BEGIN sv39
    /* pg_data holds 0x1111.. at 0, pg_data2 0x2222.. */
    la s0, pg_data
    li t0, 0x1111111111111111
    sd t0, 0(s0)
    la s1, pg_data2
    li t0, 0x2222222222222222
    sd t0, 0(s1)

    /* L2 */
    la t2, l1
    SETPTE root, 0, t2, PTE_V
    li t2, 0x80000000
    SETPTE root, 2, t2, LEAF_RWX            /* identity: code, data, handlers */
    SETPTE root, 4, t2, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    li t2, 0x80001000
    SETPTE root, 5, t2, PTE_V | PTE_R | PTE_A
    la t1, root
    sd zero, 6 * 8(t1)
    li t2, 0x80000000
    SETPTE root, 7, t2, PTE_V | PTE_W | PTE_A | PTE_D
    /* L1 */
    li t2, 0x80000000
    SETPTE l1, 1, t2, PTE_V | PTE_R | PTE_A
    li t2, 0x80001000
    SETPTE l1, 2, t2, PTE_V | PTE_R | PTE_A
    la t2, l0
    SETPTE l1, 3, t2, PTE_V
    /* L0 */
    SETPTE l0, 0, s0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    SETPTE l0, 1, s0, PTE_V | PTE_R | PTE_A
    SETPTE l0, 2, s0, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
    SETPTE l0, 3, s0, PTE_V | PTE_X | PTE_A
    SETPTE l0, 4, s0, PTE_V | PTE_R | PTE_W
    la t2, code_page
    SETPTE l0, 5, t2, PTE_V | PTE_X | PTE_A
    SETPTE l0, 6, t2, PTE_V | PTE_R | PTE_A
    SETPTE l0, 7, t2, PTE_V | PTE_X | PTE_U | PTE_A
    SETPTE l0, 8, s0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    la t1, l0
    sd zero, 9 * 8(t1)
    la t2, code_page
    SETPTE l0, 10, t2, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
    SETPTE l0, 11, s0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D

    la t0, root
    srli t0, t0, 12
    li t1, SATP_SV39
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    csrr t1, satp
    srli t1, t1, 60
    CHECK 1, satp-mode-sv39, t1, 8

    /* ---- translation ---- */
    S_OK 2, s-4k, s_ld, VA_L0, 0x1111111111111111
    li t0, VA_1G
    la t1, pg_data
    li t2, 0x80000000
    sub t1, t1, t2
    add s3, t0, t1              /* VA of pg_data through the 1 GiB page */
    mv s2, s3
    RUN_IN PRV_S, s_ld_s2
    CHECK 3, s-1g, t1, 0x1111111111111111
    li t0, VA_2M
    la t1, s_ld                 /* code bytes through the 2 MiB page */
    li t2, 0x80000000
    sub t1, t1, t2
    add s2, t0, t1
    RUN_IN PRV_S, s_ld_s2
    la t2, s_ld
    lwu t2, 0(t2)
    slli t1, t1, 32
    srli t1, t1, 32
    CHECKR 4, s-2m, t1, t2
    /* store through the 4K page is seen through the identity map */
    li s2, VA_L0
    li s4, 0x3333333333333333
    RUN_IN PRV_S, s_sd
    ld t1, 0(s0)
    CHECK 5, s-4k-store, t1, 0x3333333333333333
    /* page offset bits pass through */
    li t0, 0x0123456789abcdef
    sd t0, 0x7f8(s0)
    S_OK 6, s-4k-offset, s_ld, VA_L0 + 0x7f8, 0x0123456789abcdef

    /* ---- page faults ---- */
    S_FAULT 7, invalid-l2, s_ld, VA_INV, CAUSE_LOAD_PAGE
    S_FAULT 8, invalid-l0, s_ld, VA_L0 + 9 * 0x1000, CAUSE_LOAD_PAGE
    S_FAULT 9, invalid-l0-store, s_sd, VA_L0 + 9 * 0x1000 + 8, CAUSE_STORE_PAGE
    S_FAULT 10, w-without-r, s_ld, VA_WNR, CAUSE_LOAD_PAGE
    S_FAULT 11, w-without-r-store, s_sd, VA_WNR, CAUSE_STORE_PAGE
    S_FAULT 12, misaligned-1g, s_ld, VA_1G_BAD, CAUSE_LOAD_PAGE
    S_FAULT 13, misaligned-2m, s_ld, VA_2M_BAD, CAUSE_LOAD_PAGE
    S_FAULT 14, read-only-store, s_sd, VA_L0 + 1 * 0x1000, CAUSE_STORE_PAGE
    S_FAULT 15, amo-read-only, s_amo, VA_L0 + 1 * 0x1000, CAUSE_STORE_PAGE
    S_FAULT 16, non-canonical-1, s_ld, 0x0000004000000000, CAUSE_LOAD_PAGE
    S_FAULT 17, non-canonical-2, s_ld, 0xffffffbf80000000, CAUSE_LOAD_PAGE
    S_FAULT 18, non-canonical-3, s_sd, 0x8000000080000000, CAUSE_STORE_PAGE
    /* canonical negative address: bits 63..39 = bit 38 = 1 -> root[256+] (invalid) */
    S_FAULT 19, canonical-high-unmapped, s_ld, 0xffffffc000000000, CAUSE_LOAD_PAGE
    /* U page from S: fault without SUM, fine with SUM */
    S_FAULT 20, u-page-no-sum, s_ld, VA_L0 + 2 * 0x1000, CAUSE_LOAD_PAGE
    li t0, MSTATUS_SUM
    csrs mstatus, t0
    S_OK 21, u-page-sum, s_ld, VA_L0 + 2 * 0x1000, 0x3333333333333333
    /* SUM does not allow executing U pages */
    li s2, VA_L0 + 7 * 0x1000
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_jump
1:  ld t1, trap_cause
    CHECK 22, s-fetch-u-page-cause, t1, CAUSE_FETCH_PAGE
    ld t1, trap_tval
    CHECK 23, s-fetch-u-page-tval, t1, VA_L0 + 7 * 0x1000
    ld t1, trap_epc
    CHECK 24, s-fetch-u-page-epc, t1, VA_L0 + 7 * 0x1000
    li t0, MSTATUS_SUM
    csrc mstatus, t0
    /* execute-only page: load faults unless MXR */
    S_FAULT 25, x-only-load, s_ld, VA_L0 + 3 * 0x1000, CAUSE_LOAD_PAGE
    li t0, MSTATUS_MXR
    csrs mstatus, t0
    S_OK 26, x-only-load-mxr, s_ld, VA_L0 + 3 * 0x1000, 0x3333333333333333
    S_FAULT 27, x-only-store-mxr, s_sd, VA_L0 + 3 * 0x1000, CAUSE_STORE_PAGE
    li t0, MSTATUS_MXR
    csrc mstatus, t0
    /* fetch: X page runs, R-only page faults (cause 12, stval = epc = va) */
    li s2, VA_L0 + 5 * 0x1000
    li t3, 0
    RUN_IN PRV_S, s_jump
    CHECK 28, fetch-x-page, t3, 0x42
    li s2, VA_L0 + 6 * 0x1000
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_jump
1:  ld t1, trap_cause
    CHECK 29, fetch-r-page-cause, t1, CAUSE_FETCH_PAGE
    ld t1, trap_tval
    CHECK 30, fetch-r-page-tval, t1, VA_L0 + 6 * 0x1000
    /* fetch fault in the middle of a page: tval is the faulting address */
    li s2, VA_L0 + 9 * 0x1000 + 0x10
    TRAP_EXPECT 1f
    ENTER_MODE PRV_S, s_jump
1:  ld t1, trap_tval
    CHECK 31, fetch-invalid-tval, t1, VA_L0 + 9 * 0x1000 + 0x10

    /* ---- U-mode ---- */
    li s2, VA_L0 + 2 * 0x1000
    TRAP_EXPECT 1f
    li a0, PRV_U
    li a1, VA_L0 + 10 * 0x1000 + 8        /* u_ld */
    j enter_mode
1:  CHECK_NOTRAP 32, u-load-u-page
    CHECK 33, u-load-u-page-value, t1, 0x3333333333333333
    li s2, VA_L0
    TRAP_EXPECT 1f
    li a0, PRV_U
    li a1, VA_L0 + 10 * 0x1000 + 8        /* u_ld */
    j enter_mode
1:  ld t1, trap_cause
    CHECK 34, u-load-s-page, t1, CAUSE_LOAD_PAGE
    ld t1, trap_from
    CHECK 35, u-load-s-page-from, t1, PRV_U
    /* U cannot run S pages */
    TRAP_EXPECT 1f
    li a0, PRV_U
    li a1, VA_L0 + 5 * 0x1000
    j enter_mode
1:  ld t1, trap_cause
    CHECK 36, u-fetch-s-page, t1, CAUSE_FETCH_PAGE

    /* ---- A/D: QEMU sets them in the PTE (recorded) ---- */
    GETPTE t1, l0, 4
    andi t1, t1, 0xff
    CHECK 37, ad-initial, t1, PTE_V | PTE_R | PTE_W
    li s2, VA_L0 + 4 * 0x1000
    RUN_IN PRV_S, s_ld_s2
    CHECK_NOTRAP 38, ad-load-notrap
    GETPTE t1, l0, 4
    andi t1, t1, 0xff
    RECORD 39, ad-after-load, t1
    li s2, VA_L0 + 4 * 0x1000
    li s4, 5
    RUN_IN PRV_S, s_sd
    CHECK_NOTRAP 40, ad-store-notrap
    GETPTE t1, l0, 4
    andi t1, t1, 0xff
    RECORD 41, ad-after-store, t1
    /* a fetch sets A too */
    la t2, code_page
    SETPTE l0, 5, t2, PTE_V | PTE_X
    sfence.vma
    li s2, VA_L0 + 5 * 0x1000
    RUN_IN PRV_S, s_jump
    GETPTE t1, l0, 5
    andi t1, t1, 0xff
    RECORD 42, ad-after-fetch, t1

    /* ---- SFENCE.VMA after changing a PTE ---- */
    S_OK 43, before-remap, s_ld, VA_L0 + 8 * 0x1000, 5
    SETPTE l0, 8, s1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sfence.vma
    S_OK 44, sfence-all, s_ld, VA_L0 + 8 * 0x1000, 0x2222222222222222
    SETPTE l0, 8, s0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    li t0, VA_L0 + 8 * 0x1000
    sfence.vma t0
    S_OK 45, sfence-va, s_ld, VA_L0 + 8 * 0x1000, 5
    SETPTE l0, 8, s1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sfence.vma zero, zero        /* ASID 0 */
    S_OK 46, sfence-asid, s_ld, VA_L0 + 8 * 0x1000, 0x2222222222222222
    SETPTE l0, 8, s0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    li t0, VA_L0 + 8 * 0x1000
    sfence.vma t0, zero
    S_OK 47, sfence-va-asid, s_ld, VA_L0 + 8 * 0x1000, 5
    /* made invalid, then sfence: faults */
    la t1, l0
    sd zero, 8 * 8(t1)
    sfence.vma
    S_FAULT 48, sfence-invalidated, s_ld, VA_L0 + 8 * 0x1000, CAUSE_LOAD_PAGE
    /* sfence.vma from S-mode */
    SETPTE l0, 8, s1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    li s2, VA_L0 + 8 * 0x1000
    RUN_IN PRV_S, s_sfence_ld
    CHECK 49, sfence-in-s, t1, 0x2222222222222222

    /* ---- MPRV: M-mode loads/stores translated as S ---- */
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPP_S | MSTATUS_MPRV
    csrs mstatus, t0
    li t2, VA_L0 + 8 * 0x1000
    ld t1, 0(t2)
    li t0, MSTATUS_MPRV
    csrc mstatus, t0
    CHECK 50, mprv-load, t1, 0x2222222222222222
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPP_S | MSTATUS_MPRV
    csrs mstatus, t0
    li t2, VA_L0 + 1 * 0x1000
    TRAP_EXPECT 1f
2:  sd t1, 0(t2)
1:  li t0, MSTATUS_MPRV
    csrc mstatus, t0
    CHECK_TRAP 51, mprv-store-fault, CAUSE_STORE_PAGE, VA_L0 + 1 * 0x1000, 2b
    ld t1, trap_from
    CHECK 52, mprv-fault-from-m, t1, PRV_M
    /* MPRV does not affect instruction fetch: this code keeps running */
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPP_S | MSTATUS_MPRV
    csrs mstatus, t0
    li t3, 7
    li t0, MSTATUS_MPRV
    csrc mstatus, t0
    CHECK 53, mprv-fetch-unaffected, t3, 7
    /* MPP = M with MPRV: no translation */
    li t0, MSTATUS_MPP_M | MSTATUS_MPRV
    csrs mstatus, t0
    ld t1, 0(s1)
    li t0, MSTATUS_MPRV
    csrc mstatus, t0
    CHECK 54, mprv-mpp-m, t1, 0x2222222222222222

    csrw satp, zero
    sfence.vma
TEST_END

s_ld:
    ld t1, 0(s2)
    RETURN_TO_M
s_ld_s2:
    ld t1, 0(s2)
    RETURN_TO_M
s_sd:
    sd s4, 0(s2)
    RETURN_TO_M
s_amo:
    amoadd.d t1, s4, (s2)
    RETURN_TO_M
s_jump:
    jalr ra, 0(s2)
    RETURN_TO_M
s_sfence_ld:
    sfence.vma
    ld t1, 0(s2)
    RETURN_TO_M

    .balign 4096
code_page:
    li t3, 0x42
    ret
u_ld:
    ld t1, 0(s2)
    RETURN_TO_M
    .balign 4096

    .section .pages, "aw", @nobits
    .balign 4096
root: .skip 4096
l1: .skip 4096
l0: .skip 4096
pg_data: .skip 4096
pg_data2: .skip 4096
