/* swarm.c: an extension whose PyInit forks sleeping children until fork fails (the container's pid
 * limit stops it), then returns. The children hold the importer's pipes open and fill the pid table:
 * the check must kill them all, and the next check must find the container clean. Otherwise honest.
 */
#include <unistd.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) { Py_RETURN_NONE; }

PyMODINIT_FUNC PyInit__core(void) {
    int i;
    for (i = 0; i < 100000; i++) {
        pid_t child = fork();
        if (child < 0) {
            break;
        }
        if (child == 0) {
            for (;;) {
                pause();
            }
        }
    }
    return PyModule_Create(&pm_module);
}
