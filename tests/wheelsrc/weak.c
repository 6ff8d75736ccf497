/* weak.c: an extension with a *weak* reference to close_range() (glibc 2.34), called only when
 * the running glibc has it.
 *
 * The source does what careful C code does, but it does not lower the requirement: GNU ld
 * (2.40 here) still records close_range@GLIBC_2.34 and a GLIBC_2.34 entry in .gnu.version_r
 * *without* VER_FLG_WEAK (binutils declined to set it for weak references, sourceware BZ 24718),
 * and glibc's loader refuses a non-weak version entry it cannot satisfy. So on glibc < 2.34 the
 * import fails exactly like glibc_new, "version `GLIBC_2.34' not found".
 *
 * strlen keeps libc.so.6 in DT_NEEDED: Debian's gcc links with --as-needed, and a weak reference
 * alone does not make a library needed; without it close_range would be left unversioned.
 */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "pm_module.h"

extern int close_range(unsigned int first, unsigned int last, int flags) __attribute__((weak));

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    return PyLong_FromLong((long)strlen(Py_GetVersion()));
}

PyMODINIT_FUNC PyInit__core(void) {
    if (close_range != NULL) {
        (void)close_range(0x7ffffff0U, 0x7fffffffU, 0);
    }
    return PyModule_Create(&pm_module);
}
