// What one system call of a node's read path costs on this machine, without the node: an empty
// recvmsg (EAGAIN, what Asio's speculative read finds after each frame), an epoll_ctl
// EPOLL_CTL_MOD (what Asio calls instead when a socket waits without reading first), and a
// 125-byte loopback send with the recvmsg that takes it (a frame's way in).
//
//   cc -O2 -o /tmp/syscall-cost bench/syscall-cost.c && /tmp/syscall-cost
//
// Figures: docs/performance.md, "System calls and the /status share, 2026-12-05 afternoon".
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

static ssize_t recv_once(int fd, char* buf, size_t size) {
  struct iovec v = {buf, size};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  return recvmsg(fd, &m, 0);
}

int main(void) {
  // A loopback TCP pair: `server` is the node's end, non-blocking as Asio makes it.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) || listen(listener, 1) ||
      getsockname(listener, (struct sockaddr*)&addr, &len))
    die("listen");
  int client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(client, (struct sockaddr*)&addr, sizeof addr)) die("connect");
  int server = accept(listener, NULL, NULL);
  if (server < 0 || fcntl(server, F_SETFL, O_NONBLOCK)) die("accept");
  int ep = epoll_create1(0);
  struct epoll_event ev = {EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLPRI | EPOLLET, {.fd = server}};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, server, &ev)) die("epoll");

  char buf[1536];  // Beast's read buffer of a WebSocket stream
  char frame[125];
  memset(frame, 'x', sizeof frame);
  const int n = 1000000;

  double t0 = now_ns();
  for (int i = 0; i < n; ++i) recv_once(server, buf, sizeof buf);
  printf("empty recvmsg (EAGAIN):        %5.0f ns\n", (now_ns() - t0) / n);

  t0 = now_ns();
  for (int i = 0; i < n; ++i) epoll_ctl(ep, EPOLL_CTL_MOD, server, &ev);
  printf("epoll_ctl EPOLL_CTL_MOD:       %5.0f ns\n", (now_ns() - t0) / n);

  t0 = now_ns();
  for (int i = 0; i < n / 4; ++i) {
    if (send(client, frame, sizeof frame, 0) != (ssize_t)sizeof frame) die("send");
    if (recv_once(server, buf, sizeof buf) != (ssize_t)sizeof frame) die("recvmsg");
  }
  printf("125-byte send + its recvmsg:   %5.0f ns\n", (now_ns() - t0) / (n / 4));
  return 0;
}
