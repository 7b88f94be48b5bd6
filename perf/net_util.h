// Blocking loopback socket helpers for the broker benchmarks: connect, exact reads and writes,
// Kafka frames, and a listener for raw baselines. Any failure aborts (a benchmark has no
// recovery path).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/bytes.h"
#include "perf/bench_util.h"

namespace strata::bench {

inline int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) abort();
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

inline void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) abort();
    p += w;
    n -= static_cast<size_t>(w);
  }
}

inline void ReadAll(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) abort();
    p += r;
    n -= static_cast<size_t>(r);
  }
}

// One response frame, without its size prefix.
inline std::string ReadFrame(int fd) {
  char len[4];
  ReadAll(fd, len, 4);
  std::string body(LoadBE32(reinterpret_cast<uint8_t*>(len)), '\0');
  ReadAll(fd, body.data(), body.size());
  return body;
}

// Sends `frame` `count` times on a new connection with at most `window` requests in flight,
// reading every response; returns seconds.
inline double Pipeline(int port, const std::string& frame, int count, int window) {
  int fd = Connect(port);
  int64_t start = NowNs();
  int sent = 0, received = 0;
  while (received < count) {
    while (sent < count && sent - received < window) {
      WriteAll(fd, frame.data(), frame.size());
      ++sent;
    }
    ReadFrame(fd);
    ++received;
  }
  double s = static_cast<double>(NowNs() - start) / 1e9;
  close(fd);
  return s;
}

// A listening socket on a free loopback port; Accept() waits for one client.
struct Listener {
  int fd = -1;
  int port = 0;
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      abort();
    }
    port = ntohs(a.sin_port);
  }
  ~Listener() { close(fd); }
  int Accept() { return accept(fd, nullptr, nullptr); }
};

}  // namespace strata::bench
