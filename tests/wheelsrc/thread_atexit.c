/* thread_atexit.c: an extension that calls __cxa_thread_atexit_impl, new in glibc 2.18.
 *
 * A C++11 thread_local with a destructor makes g++ emit this call; real manylinux1 wheels built on
 * newer systems carry it while their tag promises glibc 2.5. Called here directly from C (nothing else
 * of libstdc++ comes along), so the only version it adds is GLIBC_2.18. Every distro of the default
 * matrix (glibc 2.23 and up) has it: only static analysis can see the tag is false, for the glibc 2.5
 * to 2.17 the matrix does not cover. The destructor it registers does nothing.
 */
#include <stdio.h>
#include <string.h>

#include "pm_module.h"

extern int __cxa_thread_atexit_impl(void (*dtor)(void *), void *obj, void *dso_symbol);
extern void *__dso_handle;

static int pm_thread_object;

static void pm_nothing(void *object) { (void)object; }

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    return PyLong_FromLong((long)strlen(Py_GetVersion()));
}

PyMODINIT_FUNC PyInit__core(void) {
    (void)__cxa_thread_atexit_impl(pm_nothing, &pm_thread_object, &__dso_handle);
    return PyModule_Create(&pm_module);
}
