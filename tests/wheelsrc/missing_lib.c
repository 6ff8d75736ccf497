/* missing_lib.c: an extension that calls into libpm_absent.so.1, a library no distro has and the
 * wheel does not ship. The call is a real (strong) reference, so --as-needed keeps the DT_NEEDED
 * entry, and the loader fails with "libpm_absent.so.1: cannot open shared object file".
 */
#include "pm_module.h"

extern int pm_absent_answer(void);

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(pm_absent_answer());
}

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&pm_module); }
