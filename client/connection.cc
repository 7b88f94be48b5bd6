#include "client/connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/errors.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "protocol/api_versions.h"
#include "protocol/errors.h"
#include "protocol/header.h"

namespace strata::client {

namespace {

int64_t NowMs() { return Clock::System()->MonotonicMs(); }

int RemainingMs(int64_t deadline_ms) {
  int64_t left = deadline_ms - NowMs();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT32_MAX));
}

absl::Status SocketError(absl::string_view what, const HostPort& to, int err) {
  return absl::UnavailableError(absl::StrCat(what, " ", to.ToString(), ": ", strerror(err)));
}

// Connects one address with a deadline; returns the non-blocking socket.
absl::StatusOr<int> ConnectAddress(const addrinfo* ai, const HostPort& to, int64_t deadline_ms) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) return SocketError("socket for", to, errno);
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    return SocketError("connect to", to, err);
  }
  pollfd p{fd, POLLOUT, 0};
  int n;
  do {
    n = poll(&p, 1, RemainingMs(deadline_ms));
  } while (n < 0 && errno == EINTR);
  int err = 0;
  socklen_t len = sizeof(err);
  if (n == 0)
    err = ETIMEDOUT;
  else if (n < 0)
    err = errno;
  else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    err = errno;
  if (err != 0) {
    close(fd);
    return SocketError("connect to", to, err);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

absl::StatusOr<int> OpenSocket(const HostPort& to, int64_t timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = absl::StrCat(to.port);
  if (int rc = getaddrinfo(to.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", to.ToString(), ": ", gai_strerror(rc)));
  }
  int64_t deadline = NowMs() + timeout_ms;
  absl::Status last = absl::UnavailableError(absl::StrCat("no address for ", to.ToString()));
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    absl::StatusOr<int> fd = ConnectAddress(ai, to, deadline);
    if (fd.ok()) {
      freeaddrinfo(found);
      return fd;
    }
    last = fd.status();
  }
  freeaddrinfo(found);
  return last;
}

}  // namespace

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("expected host:port, got '", text, "'"));
  }
  absl::string_view host = text.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[") && !absl::ConsumeSuffix(&host, "]")) {
    return absl::InvalidArgumentError(absl::StrCat("bad IPv6 address in '", text, "'"));
  }
  int port;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", text, "'"));
  }
  return HostPort{std::string(host), port};
}

absl::StatusOr<std::vector<HostPort>> ParseBootstrap(absl::string_view text) {
  std::vector<HostPort> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(part));
    out.push_back(std::move(hp));
  }
  if (out.empty()) return absl::InvalidArgumentError("no bootstrap servers given");
  return out;
}

Connection::Connection(HostPort address, ConnectionOptions options, int fd)
    : address_(std::move(address)),
      options_(std::move(options)),
      fd_(fd),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  reader_ = std::thread([this] { ReadLoop(); });
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Connect(const HostPort& address,
                                                                ConnectionOptions options) {
  if (options.max_in_flight == 0) options.max_in_flight = 1;
  ASSIGN_OR_RETURN(int fd, OpenSocket(address, options.connect_timeout_ms));
  std::unique_ptr<Connection> c(new Connection(address, std::move(options), fd));
  if (c->wake_fd_ < 0) return absl::InternalError("eventfd failed");
  RETURN_IF_ERROR(c->Negotiate());
  return c;
}

Connection::~Connection() {
  Fail(absl::UnavailableError("connection closed by the client"));
  // A callback that destroys its own Connection would join the thread running it.
  if (std::this_thread::get_id() == reader_.get_id()) {
    fprintf(stderr, "strata client: a Connection was destroyed by its own callback\n");
    std::abort();
  }
  reader_.join();
  close(fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::StatusOr<int16_t> Connection::RequestApiVersions(int16_t version) {
  protocol::ApiVersionsRequest req;
  req.client_software_name = "strata-cpp";
  req.client_software_version = "0.1.0";
  ASSIGN_OR_RETURN(ResponseFrame frame, Send(req, version).get());
  protocol::Reader peek(frame.body());
  ASSIGN_OR_RETURN(int16_t error, peek.Read<int16_t>());
  // KIP-511: a broker that does not know our version answers UNSUPPORTED_VERSION in a v0 body.
  int16_t body_version =
      error == static_cast<int16_t>(protocol::ErrorCode::kUnsupportedVersion) ? 0 : version;
  protocol::Reader r(frame.body());
  protocol::ApiVersionsResponse resp;
  RETURN_IF_ERROR(resp.Decode(r, body_version));
  broker_ranges_.clear();
  for (const auto& k : resp.api_keys) broker_ranges_[k.api_key] = {k.min_version, k.max_version};
  return resp.error_code;
}

absl::Status Connection::Negotiate() {
  ASSIGN_OR_RETURN(int16_t error, RequestApiVersions(3));
  if (error == static_cast<int16_t>(protocol::ErrorCode::kUnsupportedVersion)) {
    ASSIGN_OR_RETURN(error, RequestApiVersions(0));
  }
  if (error != 0) return KafkaError(error, absl::StrCat("ApiVersions ", address_.ToString()));
  return absl::OkStatus();
}

std::optional<std::pair<int16_t, int16_t>> Connection::BrokerRange(protocol::ApiKey key) const {
  auto it = broker_ranges_.find(static_cast<int16_t>(key));
  if (it == broker_ranges_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<int16_t> Connection::PickVersion(protocol::ApiKey key, int16_t client_max) const {
  const protocol::ApiInfo* api = protocol::FindApi(key);
  const char* name = api != nullptr ? api->name : "unknown API";
  std::optional<std::pair<int16_t, int16_t>> range = BrokerRange(key);
  int16_t client_min = api != nullptr ? api->min_version : 0;
  if (!range.has_value() || range->first > client_max || range->second < client_min) {
    return KafkaError(
        protocol::ErrorCode::kUnsupportedVersion, absl::StrCat(name, " on ", address_.ToString()),
        range.has_value() ? absl::StrCat("broker offers v", range->first, "-", range->second,
                                         ", client up to v", client_max)
                          : std::string("not offered by the broker"));
  }
  return std::min(client_max, range->second);
}

bool Connection::closed() const {
  absl::MutexLock lock(&mu_);
  return !failed_.ok();
}

size_t Connection::in_flight() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

}  // namespace strata::client
