// Connection: one TCP connection to one broker, speaking the Kafka protocol, with pipelining.
//
//   ASSIGN_OR_RETURN(auto conn, Connection::Connect({"127.0.0.1", 9092}, {}));
//   ASSIGN_OR_RETURN(int16_t v, conn->PickVersion(protocol::ApiKey::kMetadata, 12));
//   ASSIGN_OR_RETURN(auto md, (conn->Call<protocol::MetadataRequest,
//                                         protocol::MetadataResponse>(request, v)));
//
//   // pipelined: several requests on the wire, each answered through its own callback/future
//   auto f1 = conn->Send(fetch1, v);
//   auto f2 = conn->Send(fetch2, v);
//   absl::StatusOr<ResponseFrame> r1 = f1.get();
//
// Connect() opens the socket (bounded by connect_timeout_ms) and negotiates versions: it sends
// ApiVersions v3 and, when the broker answers UNSUPPORTED_VERSION (it then replies with a v0
// body, KIP-511), retries with v0. The broker's ranges are kept for PickVersion.
//
// Requests are written in the order Send is called, each with the next correlation id; the
// broker answers in order, and a reader thread matches each response to the oldest request
// waiting and checks its correlation id. A request not answered within its timeout, a write
// or read error, or a malformed frame closes the connection: every request waiting then
// completes with Unavailable (DeadlineExceeded for the one that timed out), and so does every
// later Send. A closed Connection never reconnects; make a new one (Cluster does).
//
// At most max_in_flight requests wait for a response; Send blocks (up to the request timeout)
// for a slot. Requests sent with expect_response = false (Produce with acks=0) take no slot.
//
// Thread safety: every method may be called from any thread. Callbacks run on the connection's
// reader thread, in response order: they must be quick, must not wait for a response on the
// same connection (that response is read by the thread running them) and must not destroy the
// Connection. A request that fails before it is written, or that expects no response, completes
// on the thread that sent it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/reader.h"

namespace strata::client {

struct HostPort {
  std::string host;
  int port = 0;
  std::string ToString() const;
  bool operator==(const HostPort&) const = default;
};

// "host:port" or "[v6addr]:port".
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);
// A comma-separated list of host:port.
absl::StatusOr<std::vector<HostPort>> ParseBootstrap(absl::string_view text);

struct ConnectionOptions {
  std::string client_id = "strata-cpp";
  int64_t connect_timeout_ms = 10'000;
  // Default time a request may wait for its response (Send can override it per request).
  int64_t request_timeout_ms = 30'000;
  // Requests awaiting a response at once; Send blocks while this many are outstanding.
  size_t max_in_flight = 5;
  // A response frame larger than this closes the connection.
  size_t max_response_bytes = 256u << 20;
};

// One response: the frame (without its size prefix) and where the body starts after the
// response header. Messages decoded from body() keep views into `bytes` (Records), so the
// frame must outlive them.
struct ResponseFrame {
  std::string bytes;
  size_t body_offset = 0;
  std::span<const uint8_t> body() const {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())
        .subspan(body_offset);
  }
};

using ResponseCallback = std::function<void(absl::StatusOr<ResponseFrame>)>;

struct SendOptions {
  // 0 = ConnectionOptions::request_timeout_ms.
  int64_t timeout_ms = 0;
  // false: the broker sends no response (Produce acks=0); the callback runs once the request is
  // written, with an empty frame.
  bool expect_response = true;
};

class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Connect(const HostPort& address,
                                                             ConnectionOptions options = {});
  // Closes the connection; waiting requests complete with Unavailable.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const HostPort& address() const { return address_; }
  const ConnectionOptions& options() const { return options_; }

  // The version to use for `key`: min(client_max, broker max). UNSUPPORTED_VERSION (as a Kafka
  // error Status) when the broker does not offer the API or the ranges do not overlap.
  absl::StatusOr<int16_t> PickVersion(protocol::ApiKey key, int16_t client_max) const;
  // The broker's [min, max] for `key`, as ApiVersions reported it.
  std::optional<std::pair<int16_t, int16_t>> BrokerRange(protocol::ApiKey key) const;

  // Sends `request` at `version`; `done` gets the response frame or an error.
  template <typename Request>
  void SendAsync(const Request& request, int16_t version, ResponseCallback done,
                 SendOptions options = {}) {
    std::string frame = protocol::EncodeRequestFrame(
        protocol::RequestHeader{.api_key = Request::kApiKey,
                                .api_version = version,
                                .correlation_id = 0,  // assigned when written
                                .client_id = options_.client_id},
        request);
    SendFrame(std::move(frame), Request::kApiKey, version, std::move(done), options);
  }

  template <typename Request>
  std::future<absl::StatusOr<ResponseFrame>> Send(const Request& request, int16_t version,
                                                  SendOptions options = {}) {
    auto promise = std::make_shared<std::promise<absl::StatusOr<ResponseFrame>>>();
    auto future = promise->get_future();
    SendAsync(
        request, version,
        [promise](absl::StatusOr<ResponseFrame> r) { promise->set_value(std::move(r)); }, options);
    return future;
  }

  // Blocking request/response. Do not use it for responses with Records fields (Fetch): their
  // views would outlive the frame; use Send and keep the ResponseFrame.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(const Request& request, int16_t version, SendOptions options = {}) {
    static_assert(Request::kApiKey == Response::kApiKey);
    ASSIGN_OR_RETURN(ResponseFrame frame, Send(request, version, options).get());
    protocol::Reader r(frame.body());
    Response response;
    RETURN_IF_ERROR(response.Decode(r, version));
    return response;
  }

  // Closes the socket now; waiting and later requests fail with Unavailable.
  void Close() { Fail(absl::UnavailableError("connection closed by the client")); }
  bool closed() const;
  // Requests written and awaiting their response.
  size_t in_flight() const;

 private:
  struct Pending {
    int32_t correlation_id;
    int16_t header_version;
    int64_t deadline_ms;  // monotonic
    int64_t timeout_ms;
    ResponseCallback done;
  };

  Connection(HostPort address, ConnectionOptions options, int fd);

  absl::Status Negotiate();
  // Sends ApiVersions at `version`, fills broker_ranges_, returns the error code.
  absl::StatusOr<int16_t> RequestApiVersions(int16_t version);
  void SendFrame(std::string frame, int16_t api_key, int16_t version, ResponseCallback done,
                 const SendOptions& options);
  absl::Status WaitForSlot(int64_t deadline_ms);
  absl::Status WriteAll(const std::string& bytes, int64_t deadline_ms);
  // The reader thread: reads frames, completes requests, enforces their deadlines.
  void ReadLoop();
  absl::Status ReadAvailable();
  absl::Status Consume(const char* data, size_t n);
  absl::Status Deliver(std::string frame);
  int PollTimeoutMs();
  void CheckDeadline();
  // Marks the connection failed (first error wins), shuts the socket down and completes every
  // waiting request with an Unavailable status naming `why`.
  void Fail(const absl::Status& why);

  const HostPort address_;
  const ConnectionOptions options_;
  const int fd_;
  const int wake_fd_;  // eventfd: wakes the reader when the first request is queued

  absl::Mutex send_mu_;  // serialises writes, so wire order = queue order
  mutable absl::Mutex mu_;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  int32_t next_correlation_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  // Written by Connect() before it returns the Connection, read-only afterwards.
  std::map<int16_t, std::pair<int16_t, int16_t>> broker_ranges_;
  std::thread reader_;

  // Reader-thread state: the frame being received.
  char size_bytes_[4] = {};
  size_t size_have_ = 0;
  bool in_frame_ = false;
  std::string frame_;
  size_t frame_have_ = 0;
};

}  // namespace strata::client
