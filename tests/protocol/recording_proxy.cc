#include "tests/protocol/recording_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace strata::protocol::test {
namespace {

RecordingProxy* g_proxy = nullptr;

// Copies bytes both ways until either side closes (or 5 s of silence), appending what each side
// sent to `c` under `mu`.
void Pump(int client, int broker, CapturedConnection* c, std::mutex* mu) {
  pollfd fds[2] = {{client, POLLIN, 0}, {broker, POLLIN, 0}};
  char buf[65536];
  bool done = false;
  while (!done && poll(fds, 2, 5000) > 0) {
    for (int i = 0; i < 2 && !done; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        done = true;
        break;
      }
      {
        std::lock_guard<std::mutex> lock(*mu);
        (i == 0 ? c->to_broker : c->to_client).append(buf, static_cast<size_t>(n));
      }
      if (write(fds[1 - i].fd, buf, static_cast<size_t>(n)) != n) done = true;
    }
  }
  close(client);
  close(broker);
}

// A listening socket on an ephemeral loopback port; -1 on failure.
int ListenLoopback(sockaddr_in* local) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  *local = sockaddr_in{};
  local->sin_family = AF_INET;
  local->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(*local);
  if (bind(listener, reinterpret_cast<sockaddr*>(local), sizeof(*local)) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(local), &len) != 0) {
    close(listener);
    return -1;
  }
  return listener;
}

}  // namespace

RecordingProxy::RecordingProxy() = default;

RecordingProxy::~RecordingProxy() {
  Finish();
  if (g_proxy == this) g_proxy = nullptr;
}

void RecordingProxy::Install(rd_kafka_conf_t* conf) {
  g_proxy = this;
  rd_kafka_conf_set_connect_cb(conf, &RecordingProxy::Connect);
}

std::vector<std::shared_ptr<CapturedConnection>> RecordingProxy::Finish() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

// librdkafka asks us to connect `sockfd` to `addr`: connect it to a one-shot proxy instead.
int RecordingProxy::Connect(int sockfd, const sockaddr* addr, int addrlen, const char*, void*) {
  RecordingProxy* self = g_proxy;
  sockaddr_in local;
  int listener = ListenLoopback(&local);
  if (listener < 0) return errno;
  sockaddr_storage target{};
  std::memcpy(&target, addr, static_cast<size_t>(addrlen));
  auto conn = std::make_shared<CapturedConnection>();
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    self->connections_.push_back(conn);
    self->threads_.emplace_back([self, listener, target, addrlen, conn] {
      int client = accept(listener, nullptr, nullptr);
      close(listener);
      int broker = socket(target.ss_family, SOCK_STREAM, 0);
      if (connect(broker, reinterpret_cast<const sockaddr*>(&target), addrlen) != 0) {
        close(client);
        close(broker);
        return;
      }
      Pump(client, broker, conn.get(), &self->mu_);
    });
  }
  // librdkafka's socket is non-blocking; connect_cb must finish the connection itself.
  int flags = fcntl(sockfd, F_GETFL);
  fcntl(sockfd, F_SETFL, flags & ~O_NONBLOCK);
  int rc = connect(sockfd, reinterpret_cast<sockaddr*>(&local), sizeof(local));
  int saved = errno;
  fcntl(sockfd, F_SETFL, flags);
  return rc == 0 ? 0 : saved;
}

}  // namespace strata::protocol::test
