/* musl_new.c: calls reallocarray, which musl added in 1.2.2 (Alpine 3.13+).
 *
 * musl has no symbol versions: nothing in the file says which musl it needs. Alpine 3.12 (musl 1.1.24)
 * refuses it at load with "Error relocating FILE: reallocarray: symbol not found"; 3.15 and later load it.
 * The size comes from Py_GetVersion so the call cannot be folded away.
 */
#include <stdlib.h>
#include <string.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    size_t n = strlen(Py_GetVersion());
    char *buf = reallocarray(NULL, n, 2);
    free(buf);
    return PyUnicode_FromString(PM_MODULE_NAME);
}

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&pm_module); }
