/* undefined.c: an extension that calls pm_nowhere_defined(), which no library defines.
 *
 * `-shared` leaves undefined symbols for the loader to resolve, so this links without complaint.
 * CPython dlopens extensions with RTLD_NOW (sys.getdlopenflags()), so every symbol is bound at
 * import and the import fails with "undefined symbol: pm_nowhere_defined" on every distro, even
 * though the call sits in probe(), which is never reached.
 */
#include "pm_module.h"

extern int pm_nowhere_defined(void);

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(pm_nowhere_defined());
}

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&pm_module); }
