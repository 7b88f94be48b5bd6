// One client connection on a reactor: reads length-prefixed frames, hands each to the
// FrameHandler, and writes the responses back in request order (pipelining), splicing file
// ranges into them with sendfile(2).
//
// Limits (each a clear action, never unbounded growth):
//   - a size prefix below 8 or above max_request_bytes closes this connection only;
//   - at most max_inflight_requests requests awaiting their responses, and at most
//     max_buffered_bytes of received-but-unhandled plus unsent response bytes: past either, the
//     connection stops reading (TCP backpressure) until responses drain;
//   - a connection idle (nothing in flight, no traffic) for idle_timeout_ms is closed.
//
// Threading: every method runs on the owning reactor's thread. Responders may complete from any
// thread; they post to this reactor. The reactor's ConnectionSet owns the connection; it is
// destroyed once closed and every io_uring operation on it has completed.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>

#include "server/reactor.h"
#include "server/response.h"

namespace strata::server {

struct ConnectionLimits {
  uint64_t max_request_bytes = 100 * 1024 * 1024;  // socket.request.max.bytes
  size_t max_inflight_requests = 128;
  uint64_t max_buffered_bytes = 256 * 1024 * 1024;
  int64_t idle_timeout_ms = 600'000;  // connections.max.idle.ms
  size_t sendfile_chunk_bytes = 1024 * 1024;
  bool copy_instead_of_sendfile = false;  // pread + send (benchmarks compare both)
};

struct ConnectionInfo {
  uint64_t id = 0;
  std::string peer;  // "host:port"
};

// Receives every complete frame (request header + body, without the size prefix). The bytes are
// writable (Produce rewrites batch headers in place) and valid only during the call.
class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  virtual void HandleFrame(std::span<uint8_t> frame, Responder responder,
                           const ConnectionInfo& info) = 0;
};

class ConnectionSet;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(int fd, Reactor* reactor, FrameHandler* handler, const ConnectionLimits& limits,
             ConnectionInfo info, ConnectionSet* owner);
  ~Connection();

  void Start();
  // A response for request `seq` is ready.
  void Deliver(uint64_t seq, Response response);
  void Close(const char* why);
  // Stops reading; closes once every pending response has been sent.
  void Drain();
  // Closes when idle for longer than the limit; returns true if it closed.
  bool CloseIfIdle(int64_t now_ms);
  bool closed() const { return closed_; }
  uint64_t id() const { return info_.id; }
  size_t pending() const { return pending_.size(); }

 private:
  struct Op : IoCallback {
    Op(Connection* c, void (Connection::*fn)(int, uint32_t)) : conn(c), fn(fn) {}
    void OnComplete(int res, uint32_t flags) override { (conn->*fn)(res, flags); }
    Connection* conn;
    void (Connection::*fn)(int, uint32_t);
    bool active = false;
  };
  struct Slot {
    uint64_t seq;
    bool ready = false;
    Response response;
  };

  void OnRecv(int res, uint32_t flags);
  void OnSend(int res, uint32_t flags);
  void OnWritable(int res, uint32_t flags);
  void MaybeRead();
  void ProcessFrames();
  void ProcessBufferedFrames();
  bool OverLimits() const;
  void PumpSends();
  void ContinueSend();
  bool SendFileChunk();  // false when it must wait for POLLOUT or failed
  void FinishOp(Op& op);
  void MaybeRelease();

  int fd_;
  Reactor* reactor_;
  FrameHandler* handler_;
  ConnectionLimits limits_;
  ConnectionInfo info_;
  ConnectionSet* owner_;
  Op recv_op_{this, &Connection::OnRecv};
  Op send_op_{this, &Connection::OnSend};
  Op poll_op_{this, &Connection::OnWritable};

  // Received bytes: [rstart_, rlen_) are buffered, not yet handed to the handler. Consumed
  // bytes are reclaimed lazily (Compact) so a partial frame is not moved after every recv.
  std::unique_ptr<uint8_t[]> rbuf_;
  size_t rcap_ = 0;
  size_t rstart_ = 0;
  size_t rlen_ = 0;
  bool draining_ = false;
  bool processing_ = false;
  bool closed_ = false;
  bool released_ = false;
  void Compact();
  int64_t last_active_ms_ = 0;

  uint64_t next_seq_ = 0;
  std::deque<Slot> pending_;
  uint64_t pending_bytes_ = 0;  // in-memory bytes of ready, unsent responses
  // Progress through pending_.front() while it is being sent.
  bool sending_ = false;
  size_t mem_pos_ = 0;
  size_t splice_idx_ = 0;
  uint64_t splice_done_ = 0;
  std::string copy_buf_;  // copy mode: the chunk being sent
};

// The connections of one reactor. Reactor thread only.
class ConnectionSet {
 public:
  void Add(std::shared_ptr<Connection> c) { conns_[c->id()] = std::move(c); }
  void Remove(uint64_t id) { conns_.erase(id); }
  size_t size() const { return conns_.size(); }
  void ForEach(const std::function<void(Connection&)>& fn);

 private:
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> conns_;
};

}  // namespace strata::server
