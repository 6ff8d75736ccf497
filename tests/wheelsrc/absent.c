/* absent.c: the stub behind libpm_absent.so.1. It exists only at build time, so the linker can
 * record DT_NEEDED libpm_absent.so.1 in missing_lib's extension; the wheel never ships it.
 */
int pm_absent_answer(void) { return 42; }
