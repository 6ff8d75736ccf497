/* policy_library.c: an extension that needs libGL.so.1 (glGetString).
 *
 * The manylinux policies let a wheel expect libGL from the system (auditwheel's allow-list), and the
 * minimal distro images do not have it: the loader says "libGL.so.1 => not found" there. That is the
 * image's lack, not a broken promise of the tag. Without a GL context glGetString returns NULL; the
 * call is only there so the reference is strong.
 */
#include "pm_module.h"

extern const unsigned char *glGetString(unsigned int name);

static PyObject *pm_probe(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(glGetString(0x1F02) != 0); /* GL_VERSION */
}

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&pm_module); }
