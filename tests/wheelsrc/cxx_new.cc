/* cxx_new.cc: a C++ extension that formats a double with std::to_chars, which libstdc++ exports
 * as _ZSt8to_charsPcS_d@GLIBCXX_3.4.29 (GCC 11). libstdc++ is linked dynamically, so the loader
 * needs GLIBCXX_3.4.29 from the distro's libstdc++.so.6 and fails with
 * "version `GLIBCXX_3.4.29' not found" where it is older (3.4.28 on Ubuntu 20.04 and Debian 11).
 * From glibc itself it needs nothing new.
 */
#include <charconv>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    char buf[32];
    std::to_chars_result r = std::to_chars(buf, buf + sizeof buf - 1, 0.25);
    *r.ptr = '\0';
    return PyUnicode_FromString(buf);
}

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&pm_module); }
