#ifndef C_SYSTEM_LINUX_H
#define C_SYSTEM_LINUX_H
// Linux system calls that Glibc's Swift overlay does not export.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/sendfile.h>
#include <netinet/tcp.h>

// accept4 is declared only with _GNU_SOURCE.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
#endif
