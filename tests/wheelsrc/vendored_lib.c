/* vendored_lib.c: libpm_vendored.so.1, shipped inside the vendored wheel in pm_vendored.libs/.
 * It calls close_range() (glibc 2.34) strongly, so the *library* needs GLIBC_2.34 while the
 * extension that loads it needs only old glibc: the wheel's real floor is set by what it bundles.
 */
#define _GNU_SOURCE
#include <unistd.h>

int pm_vendored_answer(void) { return close_range(0x7ffffff0U, 0x7fffffffU, 0) == 0 ? 1 : 0; }
