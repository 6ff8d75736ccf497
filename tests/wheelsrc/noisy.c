/* noisy.c: an extension whose PyInit prints 400 MiB to its standard output, in one line (no newline
 * at all), then imports normally. Output is no evidence about the tag: a check must drain it without
 * slowing the import (a reader that looks for line ends in all it has kept takes quadratic time here),
 * keep only some of it, and judge the wheel as the honest one it is (GLIBC_2.2.5 only).
 */
#include <string.h>
#include <unistd.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) { Py_RETURN_NONE; }

PyMODINIT_FUNC PyInit__core(void) {
    static char chunk[1 << 20];
    int i;
    memset(chunk, 'n', sizeof chunk);
    for (i = 0; i < 400; i++) {
        const char *p = chunk;
        size_t left = sizeof chunk;
        while (left > 0) {
            ssize_t n = write(1, p, left);
            if (n <= 0) {
                break;
            }
            p += n;
            left -= (size_t)n;
        }
    }
    return PyModule_Create(&pm_module);
}
