#include "CSystemLinux.h"
#include <malloc.h>

void cn_malloc_limit_arenas(int arenas) { mallopt(M_ARENA_MAX, arenas); }
int cn_malloc_trim(void) { return malloc_trim(0); }
