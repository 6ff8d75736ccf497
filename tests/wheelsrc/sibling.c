/* sibling.c: a vendored library whose file name is not its soname.
 *
 * Shipped as dll/libpm_sibling.so with DT_SONAME libpm_sibling.so.1, as some wheels ship SDL2
 * (libSDL2-2.0.so, soname libSDL2-2.0.so.0). Nothing finds it under its soname on disk: the package
 * loads it first (ctypes), and the loader then reuses it by soname for dll/libpm_user.so.1.
 */
int pm_sibling_answer(void) { return 41; }
