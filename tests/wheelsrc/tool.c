/* tool.c: pm-tool, the executable in the executable case's .data/scripts. Built as a normal
 * program on a glibc 2.34+ host, its startup code references __libc_start_main@GLIBC_2.34 (glibc
 * 2.34 moved the start-up ABI), so it needs glibc 2.34 though its own code uses nothing new.
 */
#include <stdio.h>

int main(void) {
    puts("pm-tool ok");
    return 0;
}
