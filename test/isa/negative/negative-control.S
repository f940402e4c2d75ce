/*
 * negative-control: a deliberately failing program. Case 3 expects a wrong
 * value, so both emulators must exit with code 3. The ISA test checks this
 * to prove the harness can fail.
 */
#include "test.h"

TEST_BEGIN negative-control
    TEST_RR 1, add, 1, 1, 2
    TEST_RR 2, sub, 5, 3, 2
    TEST_RR 3, add, 2, 2, 5         /* wrong on purpose: 2 + 2 = 4 */
    TEST_RR 4, xor, 1, 1, 0
TEST_END
