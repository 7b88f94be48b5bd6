// What a request handler produces, and how it gets back to its connection.
//
// A Response is a whole frame (int32 size prefix included) in memory, optionally with file
// slices spliced in at given offsets: the connection sends bytes[0, s1.offset), then s1's file
// range with sendfile(2), then bytes[s1.offset, s2.offset), ... The size prefix must already
// count the spliced bytes. This is how Fetch sends record bytes without copying them.
//
// A Responder completes one request, from any thread, exactly once; responses leave each
// connection in request order whatever order they complete in.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "log/segment.h"

namespace strata::server {

struct Response {
  struct Splice {
    size_t offset;  // position in `bytes` where the slice goes
    FileSlice slice;
  };
  std::string bytes;
  std::vector<Splice> splices;
  bool none = false;  // no response at all (Produce with acks=0)
  // Close the connection after this response (its bytes, if any, go out first, after earlier
  // responses); nothing after it is answered.
  bool close = false;

  uint64_t total_bytes() const {
    uint64_t n = bytes.size();
    for (const auto& s : splices) n += s.slice.length;
    return n;
  }
  static Response Close() {
    Response r;
    r.close = true;
    return r;
  }
  static Response None() {
    Response r;
    r.none = true;
    return r;
  }
};

class Connection;
class Reactor;

class Responder {
 public:
  Responder() = default;
  Responder(std::weak_ptr<Connection> conn, Reactor* reactor, uint64_t seq)
      : conn_(std::move(conn)), reactor_(reactor), seq_(seq) {}
  // Delivers the response (on the connection's reactor thread). Dropped silently when the
  // connection has gone away. Call once.
  void Send(Response response) const;
  Reactor* reactor() const { return reactor_; }

 private:
  std::weak_ptr<Connection> conn_;
  Reactor* reactor_ = nullptr;
  uint64_t seq_ = 0;
};

}  // namespace strata::server
