/* vendored.c: an extension that calls into libpm_vendored.so.1, found at run time through its
 * RUNPATH $ORIGIN/../pm_vendored.libs (auditwheel's layout). Itself it needs only old glibc;
 * loading it loads the vendored library, which needs GLIBC_2.34.
 */
#include <string.h>

#include "pm_module.h"

extern int pm_vendored_answer(void);

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(pm_vendored_answer() + (long)strlen(Py_GetVersion()));
}

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&pm_module); }
