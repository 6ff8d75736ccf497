/* pm_module.h: the boilerplate every test extension of tests/wheelfactory.py shares.
 *
 * Each extension is a module named `_core` (PM_MODULE_NAME is passed by the factory as
 * "pm_<case>._core") with one function, `probe()`, that the source file defines. Built with
 * -DPy_LIMITED_API=0x03050000 the module only uses the stable ABI of Python 3.5, so one
 * `.abi3.so` imports on every distro python from 3.5 to 3.13.
 */
#ifndef PM_MODULE_H
#define PM_MODULE_H

#include <Python.h>

static PyObject *pm_probe(PyObject *self, PyObject *unused);

static PyMethodDef pm_methods[] = {
    {"probe", pm_probe, METH_NOARGS, "Exercise the symbols this test case is about."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef pm_module = {
    PyModuleDef_HEAD_INIT, PM_MODULE_NAME, NULL, -1, pm_methods, NULL, NULL, NULL, NULL,
};

#endif
