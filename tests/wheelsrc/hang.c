/* hang.c: an extension whose PyInit never returns: it sleeps in a loop, on every distro, until
 * it is killed. A runner must time it out.
 */
#include <unistd.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) { Py_RETURN_NONE; }

PyMODINIT_FUNC PyInit__core(void) {
    for (;;) {
        sleep(1);
    }
    return PyModule_Create(&pm_module); /* not reached */
}
