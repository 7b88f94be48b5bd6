// A loopback TCP proxy in front of a broker that can drop the connection instead of passing on
// a Produce response: the broker has appended the batch, the client never hears so and
// retries. That is the case idempotence exists for.
//
//   CuttingProxy proxy;                                   // listens on 127.0.0.1:proxy.port()
//   BrokerProcess broker({"--advertised", proxy.address()});
//   proxy.Start(broker.port());
//   proxy.DropProduceResponses(3);                        // the next three cut their connection
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"

namespace strata::client::testing {

class CuttingProxy {
 public:
  CuttingProxy() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(0);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~CuttingProxy() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (auto& link : links_) link->Cut();
    }
    for (auto& t : pumps_) t.join();
    close(listen_fd_);
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  void Start(int upstream_port) {
    upstream_port_ = upstream_port;
    acceptor_ = std::thread([this] { Accept(); });
  }
  void DropProduceResponses(int n) { to_drop_ = n; }
  int dropped() const { return dropped_; }

 private:
  // One proxied connection: the request api keys in flight, so responses can be recognised.
  struct Link {
    int client = -1;
    int upstream = -1;
    std::mutex mu;
    std::deque<int16_t> api_keys;
    ~Link() {
      close(client);
      close(upstream);
    }
    void Cut() {
      shutdown(client, SHUT_RDWR);
      shutdown(upstream, SHUT_RDWR);
    }
  };

  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
  }
  static bool ReadFull(int fd, std::string* out, size_t n) {
    size_t start = out->size();
    out->resize(start + n);
    for (size_t got = 0; got < n;) {
      ssize_t r = read(fd, out->data() + start + got, n - got);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }
  static bool WriteFull(int fd, const std::string& s) {
    for (size_t done = 0; done < s.size();) {
      ssize_t w = send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
      if (w <= 0) return false;
      done += static_cast<size_t>(w);
    }
    return true;
  }
  // Reads one size-prefixed frame (size included).
  static bool ReadFrame(int fd, std::string* frame) {
    frame->clear();
    if (!ReadFull(fd, frame, 4)) return false;
    return ReadFull(fd, frame, LoadBE32(reinterpret_cast<const uint8_t*>(frame->data())));
  }

  void Accept() {
    while (!stopping_) {
      int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      auto link = std::make_shared<Link>();
      link->client = client;
      link->upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr = Loopback(upstream_port_);
      if (connect(link->upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        close(client);
        close(link->upstream);
        continue;
      }
      std::lock_guard lock(mu_);
      links_.push_back(link);
      pumps_.emplace_back([this, link] { Requests(*link); });
      pumps_.emplace_back([this, link] { Responses(*link); });
    }
  }
  void Requests(Link& link) {
    std::string frame;
    while (ReadFrame(link.client, &frame)) {
      {
        std::lock_guard lock(link.mu);
        link.api_keys.push_back(
            static_cast<int16_t>(LoadBE16(reinterpret_cast<const uint8_t*>(frame.data()) + 4)));
      }
      if (!WriteFull(link.upstream, frame)) break;
    }
    link.Cut();
  }
  void Responses(Link& link) {
    std::string frame;
    while (ReadFrame(link.upstream, &frame)) {
      int16_t key = -1;
      {
        std::lock_guard lock(link.mu);
        if (!link.api_keys.empty()) {
          key = link.api_keys.front();
          link.api_keys.pop_front();
        }
      }
      if (key == 0 && to_drop_.fetch_sub(1) > 0) {
        ++dropped_;
        break;  // the broker appended; the client never hears of it
      }
      if (!WriteFull(link.client, frame)) break;
    }
    link.Cut();
  }

  int listen_fd_;
  int port_;
  int upstream_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> to_drop_{0};
  std::atomic<int> dropped_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Link>> links_;
  std::vector<std::thread> pumps_;
};

}  // namespace strata::client::testing
