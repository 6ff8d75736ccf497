/* daemon.c: an extension whose PyInit starts a daemon the classic way (fork, setsid, fork again) and
 * returns at once. The daemon sleeps forever and keeps every descriptor it inherited, the importer's
 * output pipes included: a check that waits for those pipes to close waits for ever. Otherwise honest.
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) { Py_RETURN_NONE; }

PyMODINIT_FUNC PyInit__core(void) {
    pid_t child = fork();
    if (child == 0) {
        setsid();
        if (fork() == 0) {
            for (;;) {
                sleep(60);
            }
        }
        _exit(0);
    }
    if (child > 0) {
        waitpid(child, NULL, 0);
    }
    return PyModule_Create(&pm_module);
}
