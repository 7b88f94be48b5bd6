// A TCP proxy on loopback whose link a test can cut and heal: the network fault between one
// broker and etcd (or any two processes) without network namespaces. While cut, no byte moves in
// either direction and new connections wait unanswered, as behind a firewall that drops packets;
// on heal, what was held back flows again (as TCP would retransmit it), unless a peer gave up and
// closed meanwhile.
//
//   testing::TcpProxy proxy(etcd.client_port());      // listens on a free loopback port
//   broker args: --metadata etcd://127.0.0.1:<proxy.port()>
//   proxy.Cut();  ...  proxy.Heal();
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace strata::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr = Loopback(0);
    socklen_t len = sizeof(addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        listen(listen_fd_, 64) == 0 &&
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~TcpProxy() {
    stopping_ = true;
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (std::thread& t : pumps_) t.join();
    close(listen_fd_);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void Cut() { cut_ = true; }
  void Heal() { cut_ = false; }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  // Waits while cut; false once the proxy stops.
  bool WaitWhileCut() {
    while (cut_ && !stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return !stopping_;
  }

  void AcceptLoop() {
    while (!stopping_) {
      // While cut, connections stay in the backlog: the client's connect or first request hangs.
      if (!WaitWhileCut()) return;
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in target = Loopback(target_port_);
      if (connect(server, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
        close(server);
        close(client);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }

  // Copies bytes both ways until either side closes or the proxy stops.
  void Pump(int a, int b) {
    char buf[16384];
    bool open = true;
    while (open && WaitWhileCut()) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (poll(p, 2, 50) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        ssize_t n = recv(p[i].fd, buf, sizeof(buf), 0);
        open = n > 0 && SendAll(i == 0 ? b : a, buf, static_cast<size_t>(n));
      }
    }
    close(a);
    close(b);
  }

  static bool SendAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> cut_{false};
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<std::thread> pumps_;  // one per connection; joined at the end
  std::thread acceptor_;
};

}  // namespace strata::testing
