#ifndef C_SYSTEM_LINUX_H
#define C_SYSTEM_LINUX_H
// Linux system calls and glibc functions that Glibc's Swift overlay does not export.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/sendfile.h>
#include <netinet/tcp.h>

// accept4 is declared only with _GNU_SOURCE.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);

// glibc malloc: mallopt's options are macros of <malloc.h>, which Glibc's module does not export.
/// Caps the number of malloc arenas (each thread that allocates may otherwise get one, kept for good).
void cn_malloc_limit_arenas(int arenas);
/// Gives free memory at the top of the heaps back to the system; returns 1 when some was.
int cn_malloc_trim(void);
#endif
