/* writer.c: an extension whose PyInit writes 3 GiB to /tmp, 1 MiB at a time, and leaves the file there.
 * Where something bounds what a check may write, the write fails with ENOSPC and the import raises
 * OSError ([Errno 28] No space left on device); where nothing does, the import succeeds and the
 * engine's disk has grown by 3 GiB. The wheel is otherwise honest (GLIBC_2.2.5 only).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pm_module.h"

static PyObject *pm_probe(PyObject *self, PyObject *unused) { Py_RETURN_NONE; }

PyMODINIT_FUNC PyInit__core(void) {
    static char chunk[1 << 20];
    int fd, i;
    memset(chunk, 'w', sizeof chunk);
    fd = open("/tmp/pm_writer.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "/tmp/pm_writer.bin");
    }
    for (i = 0; i < 3 * 1024; i++) {
        const char *p = chunk;
        size_t left = sizeof chunk;
        while (left > 0) {
            ssize_t n = write(fd, p, left);
            if (n < 0) {
                int saved = errno;
                close(fd);
                errno = saved;
                return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "/tmp/pm_writer.bin");
            }
            p += n;
            left -= (size_t)n;
        }
    }
    close(fd);
    return PyModule_Create(&pm_module);
}
