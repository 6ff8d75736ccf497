/* sibling_user.c: a vendored library that needs libpm_sibling.so.1 (sibling.c), found by its soname
 * once the package has loaded the sibling; RUNPATH $ORIGIN would find it only under that file name.
 */
extern int pm_sibling_answer(void);

int pm_user_answer(void) { return pm_sibling_answer() + 1; }
