// ReplicaFetcher against a real leader: a `strata serve` process that librdkafka produces to.
// The follower's logs (in this process) must end byte-identical to the leader's segment files,
// pass `strata log verify`, keep up with a live tail, and cut a divergent tail the leader does
// not know before fetching again.
#include "replication/replica_fetcher.h"

#include <chrono>
#include <functional>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "log/batch_builder.h"
#include "protocol/errors.h"
#include "protocol/fetch.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/rdkafka.h"
#include "tests/testing/shell.h"
#include "tests/testing/temp_dir.h"

namespace strata {

// One fetch round in two halves, so that a test can change the partitions while a fetch is out.
class ReplicaFetcherTestPeer {
 public:
  // Builds a fetch as the fetcher's thread would send it; returns the generation it asked
  // `topic`-`partition` at.
  static uint64_t SendFetch(ReplicaFetcher& f, const std::string& topic, int32_t partition) {
    std::map<ReplicaFetcher::Key, uint64_t> generations;
    (void)f.BuildRequest(&generations);
    return generations.at({topic, partition});
  }
  // The leader's answer to that fetch arrives: an error for the partition, no records.
  static void Answer(ReplicaFetcher& f, const std::string& topic, int32_t partition,
                     uint64_t generation, protocol::ErrorCode error) {
    f.Apply({topic, partition}, generation, static_cast<int16_t>(error), -1, {});
  }
};

namespace {

using testing::BrokerProcess;

constexpr char kTopic[] = "rep";

bool Eventually(const std::function<bool()>& done, int timeout_ms = 20'000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// Sends `count` keyed, lz4-compressed records to each of partitions 0 and 1.
void Produce(const std::string& bootstrap, int from, int count) {
  testing::Producer producer(
      {{"bootstrap.servers", bootstrap}, {"linger.ms", "5"}, {"compression.codec", "lz4"}});
  ASSERT_TRUE(producer.ok()) << producer.error();
  for (int i = from; i < from + count; ++i) {
    for (int32_t p = 0; p < 2; ++p) {
      std::string key = absl::StrCat("key-", i % 97);
      ASSERT_EQ(producer.Send(kTopic, &key, absl::StrCat("value-", p, "-", i), p),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  }
  ASSERT_EQ(producer.Flush(), 0);
}

std::string FileBytes(const std::string& path) {
  auto s = ReadFileToString(FileSystem::Default(), path);
  return s.ok() ? *s : "<" + std::string(s.status().message()) + ">";
}

class ReplicaFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(leader_.ok()) << leader_.log();
    ASSERT_EQ(testing::CreateTopic(leader_.bootstrap(), kTopic, 2), "");
    for (int32_t p = 0; p < 2; ++p) logs_.push_back(OpenFollowerLog(p));
    fetcher_ = std::make_unique<ReplicaFetcher>(ReplicaFetcher::Options{
        .replica_id = 9, .leader = {"127.0.0.1", leader_.port()}, .max_wait_ms = 200});
  }
  std::shared_ptr<Log> OpenFollowerLog(int32_t p) {
    auto log = Log::Open(FileSystem::Default(), Dir(p), LogConfig{}, Clock::System(), {});
    EXPECT_TRUE(log.ok()) << log.status();
    return std::shared_ptr<Log>(std::move(*log));
  }
  std::string Dir(int32_t p) { return follower_dir_.Sub(absl::StrCat(kTopic, "-", p)); }
  std::string LeaderSegment(int32_t p) {
    return absl::StrCat(leader_.data_dir(), "/", kTopic, "-", p, "/00000000000000000000.log");
  }
  std::string FollowerSegment(int32_t p) { return Dir(p) + "/00000000000000000000.log"; }
  void Follow(int32_t p) {
    fetcher_->AddPartition({.topic = kTopic, .partition = p, .log = logs_[p], .leader_epoch = 0});
  }
  bool CaughtUp(int32_t p, int64_t end) {
    auto s = fetcher_->Status(kTopic, p);
    return s.has_value() && s->error.empty() && s->log_end == Offset(end) &&
           s->high_watermark == Offset(end);
  }
  // Flushes the leader's page cache view to its files: the follower compares whole files.
  void ExpectIdentical(int32_t p) {
    ASSERT_TRUE(logs_[p]->FlushAll().ok());
    std::string leader = FileBytes(LeaderSegment(p)), follower = FileBytes(FollowerSegment(p));
    EXPECT_GT(leader.size(), 1000u);
    EXPECT_EQ(leader.size(), follower.size()) << "partition " << p;
    EXPECT_TRUE(leader == follower) << "partition " << p << " differs";
  }

  BrokerProcess leader_;
  testing::TempDir follower_dir_;
  std::vector<std::shared_ptr<Log>> logs_;
  std::unique_ptr<ReplicaFetcher> fetcher_;
};

TEST_F(ReplicaFetcherTest, CopiesTheLeaderByteForByteAndFollowsTheTail) {
  Produce(leader_.bootstrap(), 0, 1500);
  Follow(0);
  Follow(1);
  fetcher_->Start();
  ASSERT_TRUE(Eventually([&] { return CaughtUp(0, 1500) && CaughtUp(1, 1500); }))
      << fetcher_->Status(kTopic, 0)->log_end.value() << " " << fetcher_->Status(kTopic, 0)->error;
  // A live tail: the parked long poll wakes on the leader's appends.
  Produce(leader_.bootstrap(), 1500, 500);
  ASSERT_TRUE(Eventually([&] { return CaughtUp(0, 2000) && CaughtUp(1, 2000); }));
  fetcher_->Stop();
  ExpectIdentical(0);
  ExpectIdentical(1);
  // The follower's copy is a valid partition in its own right.
  for (auto& log : logs_) ASSERT_TRUE(log->Close().ok());
  auto verify =
      testing::Shell(absl::StrCat(STRATA_BINARY, " log verify ", follower_dir_.path(), " 2>&1"));
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_EQ(fetcher_->Status(kTopic, 0)->truncated_records, 0);
}

TEST_F(ReplicaFetcherTest, CutsATailTheLeaderDoesNotHaveThenCatchesUp) {
  Produce(leader_.bootstrap(), 0, 300);
  Follow(0);
  fetcher_->Start();
  ASSERT_TRUE(Eventually([&] { return CaughtUp(0, 300); }));
  fetcher_->Stop();
  // As if this replica had led in epoch 1 and written 5 records nobody copied.
  RecordBatchBuilder b({.base_offset = Offset(300), .partition_leader_epoch = LeaderEpoch(1)});
  for (int i = 0; i < 5; ++i) b.Add("stray", absl::StrCat("unreplicated-", i), 1);
  std::string batch = *b.Build();
  ASSERT_TRUE(
      logs_[0]
          ->Append(std::span<uint8_t>(reinterpret_cast<uint8_t*>(batch.data()), batch.size()),
                   {.assign_offsets = false})
          .ok());
  ASSERT_EQ(logs_[0]->log_end_offset(), Offset(305));
  Produce(leader_.bootstrap(), 300, 100);  // the leader's own offsets 300..399
  Follow(0);                               // a leader change: compare epochs first
  fetcher_->Start();
  ASSERT_TRUE(Eventually([&] { return CaughtUp(0, 400); })) << fetcher_->Status(kTopic, 0)->error;
  fetcher_->Stop();
  EXPECT_EQ(fetcher_->Status(kTopic, 0)->truncated_records, 5);
  ExpectIdentical(0);
  EXPECT_EQ(logs_[0]->leader_epochs().Latest()->epoch, LeaderEpoch(0));  // epoch 1 is gone
}

TEST_F(ReplicaFetcherTest, AFollowerPastTheLeadersEndStartsOverAtIt) {
  Produce(leader_.bootstrap(), 0, 100);
  // No epochs to compare (an empty log that starts at 5000): the fetch is out of range.
  ASSERT_TRUE(logs_[0]->TruncateFullyAndStartAt(Offset(5000)).ok());
  Follow(0);
  fetcher_->Start();
  ASSERT_TRUE(Eventually([&] { return CaughtUp(0, 100); })) << fetcher_->Status(kTopic, 0)->error;
  EXPECT_EQ(logs_[0]->log_start_offset(), Offset(100));
  Produce(leader_.bootstrap(), 100, 10);
  EXPECT_TRUE(Eventually([&] { return CaughtUp(0, 110); })) << fetcher_->Status(kTopic, 0)->error;
  fetcher_->Stop();
}

// Issue 13, bug 1: an epoch change with the same leader removes the partition and adds it again.
// A fetch sent before must not count for the new entry: its generation used to start again at 1,
// so that fetch's FENCED_LEADER_EPOCH parked the new entry until the next epoch change (a follower
// frozen for minutes, out of the ISR, with nothing logged).
TEST_F(ReplicaFetcherTest, APartitionAddedAgainIgnoresTheAnswerToAnEarlierFetch) {
  Produce(leader_.bootstrap(), 0, 100);
  Follow(0);
  ASSERT_TRUE(fetcher_->RunOnce().ok());  // compares epochs (none yet) and copies the 100
  ASSERT_TRUE(CaughtUp(0, 100));
  Produce(leader_.bootstrap(), 100, 50);
  const uint64_t sent_at = ReplicaFetcherTestPeer::SendFetch(*fetcher_, kTopic, 0);
  fetcher_->RemovePartition(kTopic, 0);  // the partition's new state names no leader
  Follow(0);                             // the next one names the same leader again
  ReplicaFetcherTestPeer::Answer(*fetcher_, kTopic, 0, sent_at,
                                 protocol::ErrorCode::kFencedLeaderEpoch);
  EXPECT_EQ(fetcher_->Status(kTopic, 0)->error, "");
  fetcher_->Start();
  // Well within the 5 s a fenced partition waits before it asks again.
  EXPECT_TRUE(Eventually([&] { return CaughtUp(0, 150); }, 3'000))
      << fetcher_->Status(kTopic, 0)->error;
  fetcher_->Stop();
}

TEST_F(ReplicaFetcherTest, ParksAPartitionTheLeaderDoesNotHave) {
  auto stray = OpenFollowerLog(7);
  fetcher_->AddPartition({.topic = "nope", .partition = 0, .log = stray, .leader_epoch = 0});
  Follow(0);
  Produce(leader_.bootstrap(), 0, 50);
  fetcher_->Start();
  ASSERT_TRUE(Eventually([&] { return CaughtUp(0, 50); }));
  ASSERT_TRUE(Eventually([&] { return !fetcher_->Status("nope", 0)->error.empty(); }));
  EXPECT_EQ(fetcher_->Status("nope", 0)->error, "UNKNOWN_TOPIC_OR_PARTITION");
  // The leader going away is retried, not fatal.
  leader_.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  leader_.Start();
  ASSERT_TRUE(leader_.ok()) << leader_.log();
  Produce(leader_.bootstrap(), 50, 10);
  EXPECT_TRUE(Eventually([&] { return CaughtUp(0, 60); })) << fetcher_->Status(kTopic, 0)->error;
  fetcher_->Stop();
}

}  // namespace
}  // namespace strata
