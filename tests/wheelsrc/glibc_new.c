/* glibc_new.c: an extension that really calls close_range(), new in glibc 2.34.
 *
 * The reference is strong (declared by <unistd.h> with _GNU_SOURCE) so the linker records
 * close_range@GLIBC_2.34 and a GLIBC_2.34 entry in .gnu.version_r; the loader checks that entry
 * when the module is loaded, before any code runs, and on glibc < 2.34 fails with
 * "version `GLIBC_2.34' not found". PyInit calls it on a range of descriptors that cannot be open,
 * so the call is harmless (ENOSYS on kernels < 5.9 is ignored).
 */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    return PyLong_FromLong((long)strlen(Py_GetVersion()));
}

PyMODINIT_FUNC PyInit__core(void) {
    (void)close_range(0x7ffffff0U, 0x7fffffffU, 0);
    return PyModule_Create(&pm_module);
}
