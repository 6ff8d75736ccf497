/* killer.c: an extension whose PyInit sends SIGKILL to every process it may signal (kill(-1, ...)),
 * which, as the unprivileged user a check runs as, is every process of the check but the importer: the
 * probe dies with it. The report must say what the import did (a crash by SIGKILL, from the wheel's
 * code), not blame the engine, and the other wheels must still be checked.
 */
#include <signal.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) { Py_RETURN_NONE; }

PyMODINIT_FUNC PyInit__core(void) {
    kill(-1, SIGKILL);
    return PyModule_Create(&pm_module);
}
