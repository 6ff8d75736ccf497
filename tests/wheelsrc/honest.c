/* honest.c: an extension that needs nothing newer than glibc 2.2.5 (the x86_64 baseline).
 *
 * strlen and snprintf exist at GLIBC_2.2.5; they are applied to a string only known at run time
 * (Py_GetVersion) so the compiler cannot fold them away and the references stay in .dynsym.
 * Also the base of the cases that differ only in their tag, flags or packaging.
 */
#include <stdio.h>
#include <string.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    char buf[64];
    const char *version = Py_GetVersion();
    snprintf(buf, sizeof buf, "%s %u", PM_MODULE_NAME, (unsigned)strlen(version));
    return PyUnicode_FromString(buf);
}

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&pm_module); }
