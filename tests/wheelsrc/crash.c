/* crash.c: an extension whose PyInit aborts the interpreter (SIGABRT). It needs only old glibc,
 * so it crashes the same way on every distro.
 */
#include <stdlib.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) { Py_RETURN_NONE; }

PyMODINIT_FUNC PyInit__core(void) {
    abort();
    return PyModule_Create(&pm_module); /* not reached */
}
