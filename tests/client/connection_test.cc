// Connection against a real broker (version negotiation, pipelining, failures) and against a
// scripted fake broker (the ApiVersions v0 fallback of KIP-511).
#include "client/connection.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "client/errors.h"
#include "common/bytes.h"
#include "protocol/api_versions.h"
#include "protocol/fetch.h"
#include "protocol/metadata.h"
#include "tests/client/client_testing.h"

namespace strata::client {
namespace {

using protocol::ApiKey;

class ConnectionTest : public testing::BrokerTest {};

TEST_F(ConnectionTest, NegotiatesVersionsWithTheBroker) {
  auto conn = Connection::Connect(Bootstrap()[0]);
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto produce = (*conn)->BrokerRange(ApiKey::kProduce);
  ASSERT_TRUE(produce.has_value());
  EXPECT_EQ(produce->second, 9);
  auto v = (*conn)->PickVersion(ApiKey::kProduce, 11);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 9) << "min(client max, broker max)";
  v = (*conn)->PickVersion(ApiKey::kProduce, 7);
  EXPECT_EQ(*v, 7);
  v = (*conn)->PickVersion(ApiKey::kFetch, 3);  // the broker starts at v4
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(KafkaErrorOf(v.status()), protocol::ErrorCode::kUnsupportedVersion) << v.status();
  for (const protocol::ApiInfo& api : protocol::AllApis()) {
    if ((*conn)->BrokerRange(api.key).has_value()) continue;
    v = (*conn)->PickVersion(api.key, api.max_version);  // an API the broker does not offer
    EXPECT_FALSE(v.ok()) << api.name;
    EXPECT_NE(v.status().message().find("UNSUPPORTED_VERSION"), std::string::npos);
  }
}

TEST_F(ConnectionTest, PipelinesRequestsAndMatchesResponses) {
  auto conn = Connection::Connect(Bootstrap()[0], {.max_in_flight = 4});
  ASSERT_TRUE(conn.ok()) << conn.status();
  int16_t version = *(*conn)->PickVersion(ApiKey::kMetadata, 12);
  std::vector<std::future<absl::StatusOr<ResponseFrame>>> futures;
  for (int i = 0; i < 50; ++i) {
    protocol::MetadataRequest req;
    req.topics->clear();
    futures.push_back((*conn)->Send(req, version));
  }
  for (auto& f : futures) {
    absl::StatusOr<ResponseFrame> frame = f.get();
    ASSERT_TRUE(frame.ok()) << frame.status();
    protocol::MetadataResponse resp;
    protocol::Reader r(frame->body());
    ASSERT_TRUE(resp.Decode(r, version).ok());
    EXPECT_EQ(resp.brokers.size(), 1u);
  }
  EXPECT_EQ((*conn)->in_flight(), 0u);
}

TEST_F(ConnectionTest, ARequestTimeoutClosesTheConnection) {
  auto conn = Connection::Connect(Bootstrap()[0], {.request_timeout_ms = 300});
  ASSERT_TRUE(conn.ok()) << conn.status();
  CreateTopic("conn-timeout", 1);
  int16_t version = *(*conn)->PickVersion(ApiKey::kFetch, 12);
  protocol::FetchRequest req;
  req.max_wait_ms = 3000;  // a long poll on an empty partition outlives the request timeout
  req.min_bytes = 1;
  req.topics.push_back({.topic = "conn-timeout", .topic_id = {}, .partitions = {}});
  req.topics[0].partitions.push_back(
      {.partition = 0, .fetch_offset = 0, .partition_max_bytes = 1 << 20});
  int64_t start = Clock::System()->MonotonicMs();
  absl::StatusOr<ResponseFrame> r = (*conn)->Send(req, version).get();
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  EXPECT_LT(Clock::System()->MonotonicMs() - start, 2500);
  EXPECT_TRUE((*conn)->closed());
  protocol::MetadataRequest md;
  auto after = (*conn)->Send(md, 1).get();
  EXPECT_TRUE(absl::IsDeadlineExceeded(after.status()) || absl::IsUnavailable(after.status()))
      << after.status();
}

TEST(ConnectionFailureTest, ConnectingToAClosedPortFailsQuickly) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);  // the port is now (very likely) closed
  auto conn =
      Connection::Connect({"127.0.0.1", ntohs(addr.sin_port)}, {.connect_timeout_ms = 2000});
  EXPECT_TRUE(absl::IsUnavailable(conn.status())) << conn.status();
  conn = Connection::Connect({"no-such-host.invalid", 9092}, {.connect_timeout_ms = 2000});
  EXPECT_FALSE(conn.ok());
}

// A one-connection fake broker that answers ApiVersions v3 the way a broker that does not know
// v3 would (UNSUPPORTED_VERSION in a v0 body) and records the versions it was asked with.
class FakeBroker {
 public:
  FakeBroker() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 1);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeBroker() {
    thread_.join();
    close(listen_fd_);
  }
  int port() const { return port_; }
  std::vector<int16_t> versions;

 private:
  bool ReadFull(int fd, char* p, size_t n) {
    while (n > 0) {
      ssize_t r = read(fd, p, n);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  void Serve() {
    int fd = accept(listen_fd_, nullptr, nullptr);
    for (int i = 0; i < 2; ++i) {
      char size_bytes[4];
      if (!ReadFull(fd, size_bytes, 4)) break;
      std::string frame(LoadBE32(reinterpret_cast<uint8_t*>(size_bytes)), '\0');
      if (!ReadFull(fd, frame.data(), frame.size())) break;
      protocol::Reader r(AsBytes(frame));
      auto header = protocol::RequestHeader::Decode(r);
      versions.push_back(header->api_version);
      protocol::ApiVersionsResponse resp;
      resp.error_code = header->api_version > 0 ? 35 : 0;
      resp.api_keys.push_back({18, 0, 0});
      resp.api_keys.push_back({3, 0, 1});
      std::string out = protocol::EncodeResponseFrame(header->correlation_id, 0, resp);
      ssize_t w = write(fd, out.data(), out.size());
      (void)w;
    }
    close(fd);
  }
  int listen_fd_;
  int port_;
  std::thread thread_;
};

TEST(ConnectionFallbackTest, RetriesApiVersionsWithV0OnUnsupportedVersion) {
  FakeBroker fake;
  {
    auto conn = Connection::Connect({"127.0.0.1", fake.port()}, {.connect_timeout_ms = 2000});
    ASSERT_TRUE(conn.ok()) << conn.status();
    auto v = (*conn)->PickVersion(ApiKey::kMetadata, 12);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, 1);
  }
  EXPECT_EQ(fake.versions, (std::vector<int16_t>{3, 0}));
}

TEST(ConnectionStopTest, ABrokerGoingAwayFailsRequestsWithUnavailable) {
  strata::testing::BrokerProcess broker;
  ASSERT_TRUE(broker.ok()) << broker.log();
  auto conn = Connection::Connect(*ParseHostPort(broker.bootstrap()));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(broker.Stop(), 0);
  protocol::MetadataRequest md;
  absl::StatusOr<ResponseFrame> r = (*conn)->Send(md, 1).get();
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_TRUE((*conn)->closed());
}

}  // namespace
}  // namespace strata::client
