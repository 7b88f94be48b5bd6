// A minimal Kafka client over a plain socket for tests that need exact control of the bytes:
// send any frame (or garbage), read one response, tell whether the broker closed the connection.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/status/statusor.h"
#include "common/bytes.h"
#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/header.h"
#include "protocol/produce.h"
#include "protocol/reader.h"

namespace strata::testing {

// A Produce request carrying one record batch to `topic`-`partition`. The request points into
// `batch`, which must outlive it.
inline protocol::ProduceRequest OneBatchProduce(const std::string& topic, int32_t partition,
                                                const std::string& batch, int16_t acks = 1,
                                                int32_t timeout_ms = 5000) {
  protocol::ProduceRequest req;
  req.acks = acks;
  req.timeout_ms = timeout_ms;
  auto& t = req.topic_data.emplace_back();
  t.name = topic;
  auto& p = t.partition_data.emplace_back();
  p.index = partition;
  p.records.bytes = AsBytes(batch);
  return req;
}

class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawClient() { Close(); }
  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  bool SendRaw(const std::string& bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Reads one frame body (without the size), or an error when the connection closed.
  absl::StatusOr<std::string> ReadFrame() {
    uint8_t len[4];
    if (!ReadExactly(len, 4)) return absl::UnavailableError("closed");
    std::string body(LoadBE32(len), '\0');
    if (!ReadExactly(reinterpret_cast<uint8_t*>(body.data()), body.size())) {
      return absl::UnavailableError("closed mid-frame");
    }
    return body;
  }
  // True when the broker closed the connection (EOF) within the receive timeout.
  bool ClosedByPeer() {
    char c;
    ssize_t n = recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Call(const Req& req, int16_t version) {
    protocol::RequestHeader h{Req::kApiKey, version, ++correlation_, std::string("raw-test")};
    if (!SendRaw(protocol::EncodeRequestFrame(h, req))) return absl::UnavailableError("send");
    auto frame = ReadFrame();
    if (!frame.ok()) return frame.status();
    protocol::Reader r(AsBytes(*frame));
    auto corr = protocol::DecodeResponseHeader(r, protocol::ResponseHeaderVersion(Req::kApiKey, version));
    if (!corr.ok()) return corr.status();
    if (*corr != correlation_) return absl::InternalError("correlation id mismatch");
    Resp resp;
    if (absl::Status s = resp.Decode(r, version); !s.ok()) return s;
    return resp;
  }

 private:
  bool ReadExactly(uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t r = recv(fd_, p, n, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  int32_t correlation_ = 0;
};

}  // namespace strata::testing
