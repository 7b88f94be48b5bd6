// Real-client captures: librdkafka (Debian's 2.0.2) talks to its own mock cluster through a
// recording proxy, and every request and response frame it exchanges, in both directions, must
// decode and re-encode to the identical bytes; every truncation of them must fail cleanly.
//
// With STRATA_WRITE_FIXTURE=<dir> one exchange of each (api, version) is also written to
// <dir>/librdkafka-<scenario>.exchanges (see capture_check.h for the format), and with
// STRATA_WRITE_CORPUS=<dir> each such request frame (without its size) to
// <dir>/<api>-v<version>.bin: that is how tests/fixtures/protocol/ and tests/fuzz/corpus/request/
// were made (see tests/fixtures/protocol/README.md).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "protocol/api.h"
#include "tests/protocol/capture_check.h"
#include "tests/protocol/recording_proxy.h"

namespace strata::protocol::test {
namespace {

using ApiVersion = std::pair<int16_t, int16_t>;
constexpr int kMessages = 20;

class MockCluster {
 public:
  MockCluster() {
    char err[512];
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof(err));
    EXPECT_NE(host_, nullptr) << err;
    mock_ = rd_kafka_mock_cluster_new(host_, 1);
    EXPECT_NE(mock_, nullptr);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mock_);
    rd_kafka_destroy(host_);
  }
  const char* bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mock_); }

 private:
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
};

rd_kafka_t* NewClient(rd_kafka_type_t type, const MockCluster& cluster, RecordingProxy* proxy,
                      std::vector<std::pair<const char*, const char*>> settings) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  settings.emplace_back("bootstrap.servers", cluster.bootstraps());
  for (const auto& [key, value] : settings) {
    EXPECT_EQ(rd_kafka_conf_set(conf, key, value, err, sizeof(err)), RD_KAFKA_CONF_OK) << err;
  }
  if (proxy != nullptr) proxy->Install(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  EXPECT_NE(rk, nullptr) << err;
  return rk;
}

void Produce(rd_kafka_t* producer, const char* topic) {
  for (int i = 0; i < kMessages; ++i) {
    std::string key = absl::StrCat("key-", i);
    std::string value = absl::StrCat("value-", i);
    ASSERT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                RD_KAFKA_V_VALUE(value.data(), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(producer, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

// Writes the chosen exchanges as fixtures and fuzz seeds, if the environment asks for them.
void WriteFixtures(const std::map<ApiVersion, Exchange>& chosen, const std::string& scenario) {
  std::string exchanges;
  const char* corpus_dir = std::getenv("STRATA_WRITE_CORPUS");
  for (const auto& [api, e] : chosen) {
    AppendExchange(e, &exchanges);
    if (corpus_dir != nullptr) {
      std::ofstream(absl::StrCat(corpus_dir, "/", FindApi(api.first)->name, "-v", api.second,
                                 ".bin"),
                    std::ios::binary)
          << AsStringView(e.request);
    }
  }
  if (const char* dir = std::getenv("STRATA_WRITE_FIXTURE"); dir != nullptr) {
    std::ofstream(absl::StrCat(dir, "/librdkafka-", scenario, ".exchanges"), std::ios::binary)
        << exchanges;
  }
}

// Checks every captured connection and returns the (api, version) pairs seen. Of each pair the
// exchange with the largest response (a Fetch that carried records) becomes a fixture.
std::set<ApiVersion> CheckAll(const std::vector<std::shared_ptr<CapturedConnection>>& conns,
                              const std::string& scenario) {
  std::map<ApiVersion, Exchange> chosen;
  for (const auto& c : conns) {
    for (const Exchange& e :
         CheckConnection(AsBytes(c->to_broker), AsBytes(c->to_client),
                         {.expect_malformed_mock_api_versions_error = true})) {
      ExpectTruncationsFail(e);
      auto [it, added] = chosen.try_emplace({e.header.api_key, e.header.api_version}, e);
      if (!added && e.response.size() > it->second.response.size()) it->second = e;
    }
  }
  WriteFixtures(chosen, scenario);
  std::set<ApiVersion> seen;
  for (const auto& [api, e] : chosen) seen.insert(api);
  return seen;
}

void ExpectApis(const std::set<ApiVersion>& seen, std::initializer_list<ApiKey> wanted) {
  std::set<int16_t> keys;
  std::string all;
  for (const auto& [key, version] : seen) {
    keys.insert(key);
    absl::StrAppend(&all, ApiLabel(key, version), ", ");
  }
  for (ApiKey k : wanted) {
    EXPECT_TRUE(keys.count(static_cast<int16_t>(k))) << FindApi(k)->name << " not in " << all;
  }
}

TEST(LibrdkafkaCaptureTest, IdempotentProducer) {
  MockCluster cluster;
  RecordingProxy proxy;
  rd_kafka_t* producer = NewClient(RD_KAFKA_PRODUCER, cluster, &proxy,
                                   {{"enable.idempotence", "true"}, {"linger.ms", "5"}});
  ASSERT_NE(producer, nullptr);
  Produce(producer, "capture-idempotent");
  rd_kafka_destroy(producer);
  std::set<ApiVersion> seen = CheckAll(proxy.Finish(), "producer");
  ExpectApis(seen, {ApiKey::kApiVersions, ApiKey::kMetadata, ApiKey::kInitProducerId,
                    ApiKey::kProduce});
}

// Polls until `count` messages arrived or 30 s passed.
int Consume(rd_kafka_t* consumer, int count) {
  int received = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (received < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++received;
    rd_kafka_message_destroy(m);
  }
  return received;
}

TEST(LibrdkafkaCaptureTest, ConsumerGroup) {
  MockCluster cluster;
  rd_kafka_t* producer = NewClient(RD_KAFKA_PRODUCER, cluster, nullptr, {});
  ASSERT_NE(producer, nullptr);
  Produce(producer, "capture-group");
  rd_kafka_destroy(producer);

  RecordingProxy proxy;
  rd_kafka_t* consumer = NewClient(
      RD_KAFKA_CONSUMER, cluster, &proxy,
      {{"group.id", "capture-group-id"}, {"auto.offset.reset", "earliest"},
       {"enable.auto.commit", "false"}, {"heartbeat.interval.ms", "100"},
       {"fetch.wait.max.ms", "100"}});
  ASSERT_NE(consumer, nullptr);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, "capture-group", RD_KAFKA_PARTITION_UA);
  ASSERT_EQ(rd_kafka_subscribe(consumer, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);
  EXPECT_EQ(Consume(consumer, kMessages), kMessages);
  EXPECT_EQ(rd_kafka_commit(consumer, nullptr, /*async=*/0), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(rd_kafka_consumer_close(consumer), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(consumer);

  std::set<ApiVersion> seen = CheckAll(proxy.Finish(), "consumer");
  ExpectApis(seen, {ApiKey::kApiVersions, ApiKey::kMetadata, ApiKey::kFindCoordinator,
                    ApiKey::kJoinGroup, ApiKey::kSyncGroup, ApiKey::kHeartbeat,
                    ApiKey::kOffsetFetch, ApiKey::kOffsetCommit, ApiKey::kFetch,
                    ApiKey::kListOffsets, ApiKey::kLeaveGroup});
}

}  // namespace
}  // namespace strata::protocol::test
