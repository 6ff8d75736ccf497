/* gl_stub.c: a stand-in for libGL.so.1 to link policy_library.c against (soname libGL.so.1).
 *
 * Only glGetString, with the real one's signature, so that where a real libGL is installed (this host,
 * say) the extension binds to it. The stub itself never ships in the wheel.
 */
const unsigned char *glGetString(unsigned int name) {
    (void)name;
    return (const unsigned char *)"pytest-manylinux stub";
}
