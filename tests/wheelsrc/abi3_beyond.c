/* abi3_beyond.c: built for the stable ABI of 3.5 and tagged cp35-abi3, but using two functions that
 * 3.5's stable ABI does not promise.
 *
 * PyUnicode_AsUTF8AndSize joined the stable ABI in 3.10; PyUnicode_AsUTF8 is not in it (CPython 3.13's
 * Misc/stable_abi.toml). Both are declared here by hand, as code that outgrew the limited API does:
 * the limited headers of 3.5 hide them. Every CPython from 3.3 exports both, so the module imports on
 * every distro python of the matrix; only the abi3 promise is broken, which static analysis reports.
 */
#include <stdio.h>
#include <string.h>

#include "pm_module.h"

const char *PyUnicode_AsUTF8AndSize(PyObject *unicode, Py_ssize_t *size);
const char *PyUnicode_AsUTF8(PyObject *unicode);

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    char buf[64];
    Py_ssize_t size = 0;
    PyObject *name = PyUnicode_FromString(PM_MODULE_NAME);
    if (name == NULL) return NULL;
    const char *text = PyUnicode_AsUTF8AndSize(name, &size);
    const char *again = PyUnicode_AsUTF8(name);
    snprintf(buf, sizeof buf, "%s %u %u", text, (unsigned)size, (unsigned)strlen(again));
    Py_DECREF(name);
    return PyUnicode_FromString(buf);
}

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&pm_module); }
