/* nonpolicy.c: an extension built with -fopenmp that asks OpenMP for its thread count, so it
 * needs libgomp.so.1: outside the manylinux allow-list and absent from minbase distro images,
 * where the import fails with "libgomp.so.1: cannot open shared object file". A real wheel would
 * vendor it.
 */
#include <omp.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(omp_get_max_threads());
}

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&pm_module); }
