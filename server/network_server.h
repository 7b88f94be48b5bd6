// NetworkServer: the listening socket and the reactor threads (DESIGN.md: one reactor per core by
// default). Every reactor accepts from the same listening socket (multishot accept on its own
// ring), owns the connections it accepted, and sweeps them for idleness once a second.
//
//   NetworkServer net({.host = "127.0.0.1", .port = 9092}, &handler);
//   RETURN_IF_ERROR(net.Start());
//   ...
//   net.Shutdown(/*grace_ms=*/10'000);  // stop accepting, finish in-flight work, close
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "server/connection.h"
#include "server/reactor.h"

namespace strata::server {

struct NetworkOptions {
  std::string host = "127.0.0.1";
  int port = 9092;   // 0 = any free port
  int reactors = 0;  // 0 = one per core
  ConnectionLimits limits;
};

class NetworkServer {
 public:
  NetworkServer(NetworkOptions options, FrameHandler* handler);
  ~NetworkServer();

  // Binds and listens (port() is known from then on); connections queue in the backlog until
  // Start. Optional: Start binds if this has not run.
  absl::Status Bind();
  // Starts the reactors, which accept and serve.
  absl::Status Start();
  int port() const { return port_; }
  int reactor_count() const { return static_cast<int>(reactors_.size()); }
  Reactor* reactor(int i);
  // Connections currently open (approximate; for tests and metrics).
  size_t connection_count() const;

  // Stops accepting; connections stop reading and close once their in-flight responses are out,
  // or after `grace_ms`; then the reactors stop. Idempotent.
  void Shutdown(int64_t grace_ms);

 private:
  struct PerReactor;
  class AcceptCallback;
  void OnAccept(PerReactor& pr, int res, uint32_t flags);
  void SweepIdle(PerReactor& pr);
  void WaitForConnections(int64_t timeout_ms);

  NetworkOptions options_;
  FrameHandler* handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<std::unique_ptr<PerReactor>> reactors_;
  std::atomic<uint64_t> next_conn_id_{1};
  std::atomic<bool> shut_down_{false};
};

}  // namespace strata::server
