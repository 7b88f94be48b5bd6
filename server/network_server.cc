#include "server/network_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"

namespace strata::server {

class NetworkServer::AcceptCallback final : public IoCallback {
 public:
  AcceptCallback(NetworkServer* s, PerReactor* pr) : s_(s), pr_(pr) {}
  void OnComplete(int res, uint32_t flags) override { s_->OnAccept(*pr_, res, flags); }

 private:
  NetworkServer* s_;
  PerReactor* pr_;
};

struct NetworkServer::PerReactor {
  PerReactor(int id, NetworkServer* s) : reactor(id), accept(s, this) {}
  // Declared first, destroyed last: the ring goes before the buffers its operations point at.
  ConnectionSet conns;
  Reactor reactor;
  AcceptCallback accept;
  bool accepting = false;
  std::atomic<size_t> open{0};
  std::thread thread;
};

NetworkServer::NetworkServer(NetworkOptions options, FrameHandler* handler)
    : options_(std::move(options)), handler_(handler) {}

NetworkServer::~NetworkServer() { Shutdown(0); }

namespace {

absl::StatusOr<int> Listen(const std::string& host, int port, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &res);
      rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
    int err = errno;
    freeaddrinfo(res);
    if (fd >= 0) close(fd);
    return ErrnoToStatus(err, absl::StrCat("listen on ", host, ":", port));
  }
  freeaddrinfo(res);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *bound_port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return fd;
}

std::string PeerName(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), serv, sizeof(serv),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "?";
  }
  return absl::StrCat(host, ":", serv);
}

}  // namespace

absl::Status NetworkServer::Bind() {
  if (listen_fd_ >= 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(listen_fd_, Listen(options_.host, options_.port, &port_));
  return absl::OkStatus();
}

absl::Status NetworkServer::Start() {
  // sendfile(2) has no MSG_NOSIGNAL: a peer that vanished mid-response would kill the process.
  signal(SIGPIPE, SIG_IGN);
  RETURN_IF_ERROR(Bind());
  int n = options_.reactors > 0
              ? options_.reactors
              : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) {
    auto pr = std::make_unique<PerReactor>(i, this);
    RETURN_IF_ERROR(pr->reactor.Init());
    reactors_.push_back(std::move(pr));
  }
  for (auto& pr : reactors_) {
    PerReactor* p = pr.get();
    p->thread = std::thread([this, p] {
      p->accepting = true;
      p->reactor.SubmitMultishotAccept(listen_fd_, &p->accept);
      p->reactor.AddTimer(Clock::System()->MonotonicMs() + 1000, [this, p] { SweepIdle(*p); });
      p->reactor.Run();
    });
  }
  return absl::OkStatus();
}

void NetworkServer::OnAccept(PerReactor& pr, int res, uint32_t flags) {
  if (!(flags & IORING_CQE_F_MORE)) {
    pr.accepting = false;
    if (!shut_down_.load() && res != -ECANCELED) {
      pr.accepting = true;
      pr.reactor.SubmitMultishotAccept(listen_fd_, &pr.accept);  // re-arm
    }
  }
  if (res < 0) {
    if (res != -ECANCELED && res != -EAGAIN) {
      LOG_EVENT(Warn, "network.accept_failed").Kv("error", strerror(-res));
    }
    return;
  }
  if (shut_down_.load()) {
    close(res);
    return;
  }
  int one = 1;
  setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ConnectionInfo info{next_conn_id_.fetch_add(1), PeerName(res)};
  auto conn =
      std::make_shared<Connection>(res, &pr.reactor, handler_, options_.limits, info, &pr.conns);
  pr.conns.Add(conn);
  pr.open.store(pr.conns.size());
  conn->Start();
}

void NetworkServer::SweepIdle(PerReactor& pr) {
  int64_t now = Clock::System()->MonotonicMs();
  pr.conns.ForEach([now](Connection& c) { c.CloseIfIdle(now); });
  pr.open.store(pr.conns.size());
  if (!shut_down_.load()) {
    pr.reactor.AddTimer(now + 1000, [this, &pr] { SweepIdle(pr); });
  }
}

size_t NetworkServer::connection_count() const {
  size_t n = 0;
  for (const auto& pr : reactors_) n += pr->open.load();
  return n;
}

void NetworkServer::WaitForConnections(int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    bool busy = false;
    for (auto& pr : reactors_) {
      PerReactor* p = pr.get();
      p->reactor.Post([p] { p->open.store(p->conns.size()); });
      busy = busy || p->open.load() > 0;
    }
    if (!busy) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void NetworkServer::Shutdown(int64_t grace_ms) {
  if (shut_down_.exchange(true)) return;
  if (reactors_.empty()) {
    if (listen_fd_ >= 0) close(listen_fd_);
    return;
  }
  for (auto& pr : reactors_) {
    PerReactor* p = pr.get();
    p->reactor.Post([p] {
      if (p->accepting) p->reactor.SubmitCancel(&p->accept);
      p->conns.ForEach([](Connection& c) { c.Drain(); });
      p->open.store(p->conns.size());
    });
  }
  WaitForConnections(grace_ms);
  for (auto& pr : reactors_) {
    PerReactor* p = pr.get();
    p->reactor.Post([p] { p->conns.ForEach([](Connection& c) { c.Close("shutdown"); }); });
  }
  WaitForConnections(1000);  // let cancelled operations complete
  for (auto& pr : reactors_) pr->reactor.Stop();
  for (auto& pr : reactors_) {
    if (pr->thread.joinable()) pr->thread.join();
  }
  close(listen_fd_);
  listen_fd_ = -1;
}

}  // namespace strata::server

namespace strata::server {
Reactor* NetworkServer::reactor(int i) { return &reactors_[static_cast<size_t>(i)]->reactor; }
}  // namespace strata::server
