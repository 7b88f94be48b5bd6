// EmbeddedMetadataStore beyond the conformance suite: the metadata.log format (golden bytes,
// torn tails, corruption), persistence across reopen, leases of a previous process, rewrites.
#include "replication/embedded_store.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/bytes.h"
#include "common/fault_fs.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "replication/metadata_log.h"
#include "tests/replication/store_testing.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

namespace ml = metadata_log;

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

TEST(MetadataLogFormat, GoldenBytes) {
  // The worked example of docs/formats/metadata-store.md.
  EXPECT_EQ(absl::BytesToHexString(ml::EncodeFileHeader()), "5354524154414d4400000001c03c53a6");
  const std::vector<std::pair<ml::Record, std::string>> cases = {
      {{.type = ml::RecordType::kState, .revision = 1, .lease = 1, .compact_revision = 1},
       "10aec1510000001905000000000000000100000000000000010000000000000001"},
      {{.type = ml::RecordType::kPut,
        .revision = 2,
        .create_revision = 2,
        .version = 1,
        .key = "/a",
        .value = "v"},
       "af53112d0000002c01000000000000000200000000000000020000000000000001000000000000000000"
       "0000022f610000000176"},
      {{.type = ml::RecordType::kDelete, .revision = 3, .key = "/a"},
       "daa2a8ab0000000f020000000000000003000000022f61"},
      {{.type = ml::RecordType::kLeaseGrant, .lease = 1, .ttl_ms = 10000},
       "36081f8b000000110300000000000000010000000000002710"},
  };
  std::string all;
  for (const auto& [record, hex] : cases) {
    std::string bytes;
    ml::AppendRecord(record, &bytes);
    EXPECT_EQ(absl::BytesToHexString(bytes), hex);
    all += Hex(hex);
  }
  ml::ScanResult scan = ml::ScanRecords(AsBytes(all));
  EXPECT_FALSE(scan.torn);
  EXPECT_EQ(scan.valid_bytes, all.size());
  ASSERT_EQ(scan.records.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(scan.records[i], cases[i].first) << i;
}

TEST(MetadataLogFormat, TornAndCorruptRecordsEndTheScan) {
  std::string two;
  ml::AppendRecord({.type = ml::RecordType::kDelete, .revision = 2, .key = "/x"}, &two);
  const size_t first = two.size();
  ml::AppendRecord({.type = ml::RecordType::kDelete, .revision = 3, .key = "/y"}, &two);
  for (size_t cut = first; cut < two.size(); ++cut) {  // every torn tail of the second record
    ml::ScanResult scan = ml::ScanRecords(AsBytes(absl::string_view(two).substr(0, cut)));
    EXPECT_EQ(scan.records.size(), 1u) << cut;
    EXPECT_EQ(scan.valid_bytes, first) << cut;
    EXPECT_EQ(scan.torn, cut > first) << cut;
  }
  for (size_t i = first; i < two.size(); ++i) {  // every flipped byte of the second record
    std::string bad = two;
    bad[i] ^= 0x40;
    ml::ScanResult scan = ml::ScanRecords(AsBytes(bad));
    EXPECT_EQ(scan.records.size(), 1u) << i;
    EXPECT_TRUE(scan.torn) << i;
  }
  std::string header = ml::EncodeFileHeader();
  EXPECT_TRUE(ml::CheckFileHeader(AsBytes(header)).ok());
  header[3] = 'x';
  EXPECT_TRUE(IsCorruption(ml::CheckFileHeader(AsBytes(header))));
}

class EmbeddedStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<EmbeddedMetadataStore> Open(uint64_t rewrite_min_bytes = 4 << 20) {
    auto store = EmbeddedMetadataStore::Open(
        {.dir = dir_.Sub("metadata"), .clock = &clock_, .rewrite_min_bytes = rewrite_min_bytes});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  std::string LogPath() { return JoinPath(dir_.Sub("metadata"), ml::kFileName); }
  uint64_t LogSize() { return *FileSystem::Default()->FileSize(LogPath()); }
  void AppendToLog(absl::string_view bytes) {
    auto file = FileSystem::Default()->Open(LogPath(), OpenMode::kReadWrite);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->WriteAt(*(*file)->Size(), AsBytes(bytes)).ok());
  }

  testing::TempDir dir_;
  ManualClock clock_;
};

TEST_F(EmbeddedStoreTest, StatePersistsAndRevisionsContinueAcrossReopen) {
  int64_t r_b = 0;
  int64_t last = 0;
  LeaseId lease = kNoLease;
  {
    auto s = Open();
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->revision(), 1);
    ASSERT_EQ(*s->Put("/a", "1"), 2);
    r_b = *s->Put("/b", "2");
    ASSERT_TRUE(s->CompareAndSet("/b", r_b, "3")->applied);
    ASSERT_TRUE(s->Delete("/a")->deleted);
    lease = *s->Grant(60'000);
    last = *s->Put("/session", "held", lease);
  }
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->Get("/a")->has_value());
  KeyValue b = **s->Get("/b");
  EXPECT_EQ(b.value, "3");
  EXPECT_EQ(b.create_revision, r_b);
  EXPECT_EQ(b.version, 2);
  // The previous process's lease is gone, and its key with it, at a new revision.
  EXPECT_FALSE(s->Get("/session")->has_value());
  EXPECT_EQ(s->revision(), last + 1);
  EXPECT_TRUE(absl::IsNotFound(s->KeepAlive(lease)));
  EXPECT_GT(*s->Grant(1000), lease);  // lease ids are never reused
  EXPECT_EQ(*s->Put("/c", "x"), last + 2);

  // A watcher that was behind sees the session key go.
  testing::WatchRecorder watch;
  auto handle = s->Watch("/session", last, watch.Callback());
  ASSERT_TRUE(handle.ok());
  auto events = watch.WaitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events[1].kv.mod_revision, last + 1);
}

TEST_F(EmbeddedStoreTest, TornTailIsTruncatedOnOpen) {
  {
    auto s = Open();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(s->Put(absl::StrCat("/k", i), "v").ok());
  }
  const uint64_t size = LogSize();
  std::string partial;
  ml::AppendRecord({.type = ml::RecordType::kDelete, .revision = 5, .key = "/k0"}, &partial);
  AppendToLog(partial.substr(0, partial.size() - 3));
  {
    auto s = Open();
    EXPECT_EQ(LogSize(), size);
    EXPECT_EQ(s->GetPrefix("/")->kvs.size(), 3u);
    EXPECT_EQ(s->revision(), 4);
  }
  // A flipped bit in the last record: the record is dropped, the rest stays.
  auto file = FileSystem::Default()->Open(LogPath(), OpenMode::kReadWrite);
  uint8_t byte = 0;
  ASSERT_TRUE((*file)->ReadAt(size - 1, {&byte, 1}).ok());
  byte ^= 1;
  ASSERT_TRUE((*file)->WriteAt(size - 1, {&byte, 1}).ok());
  auto s = Open();
  EXPECT_LT(LogSize(), size);
  EXPECT_EQ(s->GetPrefix("/")->kvs.size(), 2u);
  EXPECT_EQ(s->revision(), 3);
}

TEST_F(EmbeddedStoreTest, BadHeaderRefusesToOpen) {
  { Open(); }
  auto file = FileSystem::Default()->Open(LogPath(), OpenMode::kReadWrite);
  ASSERT_TRUE((*file)->WriteAt(0, AsBytes("XTRATAMD")).ok());
  auto store = EmbeddedMetadataStore::Open({.dir = dir_.Sub("metadata"), .clock = &clock_});
  EXPECT_TRUE(IsCorruption(store.status())) << store.status();
}

TEST_F(EmbeddedStoreTest, RewriteBoundsTheLogAndKeepsState) {
  const std::string value(100, 'v');
  int64_t first = 0;
  {
    auto s = Open(/*rewrite_min_bytes=*/4096);
    for (int i = 0; i < 500; ++i) {
      auto r = s->Put(absl::StrCat("/k", i % 10), absl::StrCat(value, i));
      ASSERT_TRUE(r.ok()) << r.status();
      if (i == 0) first = *r;
    }
    EXPECT_LT(LogSize(), 4u * 4096);
    // In memory the history still reaches back (nothing asked to compact).
    testing::WatchRecorder watch;
    auto handle = s->Watch("/k0", first, watch.Callback());
    EXPECT_EQ(watch.WaitForEvents(50).size(), 50u);
  }
  auto s = Open(4096);
  auto all = s->GetPrefix("/");
  ASSERT_EQ(all->kvs.size(), 10u);
  EXPECT_EQ(all->kvs[0].value, absl::StrCat(value, 490));
  EXPECT_EQ(all->kvs[0].version, 50);
  EXPECT_EQ(s->revision(), first + 499);
  // After a reopen the history starts at the last rewrite: an old start revision resyncs.
  testing::WatchRecorder watch;
  auto handle = s->Watch("/", first, watch.Callback());
  auto responses = watch.WaitForResponses(1);
  ASSERT_FALSE(responses.empty());
  EXPECT_TRUE(responses[0].resync);
}

TEST_F(EmbeddedStoreTest, FailedWriteStopsMutationsUntilReopen) {
  FaultInjectionFileSystem fs(FileSystem::Default());
  auto s = EmbeddedMetadataStore::Open({.dir = dir_.Sub("metadata"), .fs = &fs, .clock = &clock_});
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Put("/a", "1").ok());
  fs.AddRule({.op = FsOp::kSync, .path_contains = "metadata.log"});
  EXPECT_FALSE((*s)->Put("/b", "2").ok());
  EXPECT_FALSE((*s)->Put("/c", "3").ok());    // broken until reopened, even with the fault gone
  EXPECT_EQ((**(*s)->Get("/a")).value, "1");  // reads still work
  EXPECT_FALSE((*s)->Get("/b")->has_value());
  s->reset();
  auto reopened = EmbeddedMetadataStore::Open({.dir = dir_.Sub("metadata"), .clock = &clock_});
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->Put("/c", "3").ok());
}

TEST_F(EmbeddedStoreTest, SlowWatcherGetsAResyncInsteadOfUnboundedQueue) {
  auto s = EmbeddedMetadataStore::Open(
      {.dir = dir_.Sub("metadata"), .clock = &clock_, .max_queued_callbacks = 4});
  ASSERT_TRUE(s.ok());
  absl::Notification release;
  testing::WatchRecorder recorder;
  WatchCallback record = recorder.Callback();
  auto handle = (*s)->Watch("/", 0, [&](const WatchResponse& r) {
    release.WaitForNotification();  // a callback stuck until the test lets go
    record(r);
  });
  ASSERT_TRUE(handle.ok());
  int64_t last = 0;
  for (int i = 0; i < 20; ++i) last = *(*s)->Put(absl::StrCat("/k", i), "v");
  release.Notify();
  // Some responses were replaced by resyncs; together they still cover every revision in order.
  std::vector<WatchResponse> got;
  for (int i = 0; i < 250 && (got.empty() || got.back().revision != last); ++i) {
    got = recorder.WaitForResponses(got.size() + 1, 20);
  }
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().revision, last);
  EXPECT_LT(got.size(), 20u);
  int resyncs = 0;
  int64_t covered = got.front().revision - 1;
  for (const WatchResponse& r : got) {
    if (r.resync) {
      ++resyncs;
    } else {
      EXPECT_EQ(r.events.front().kv.mod_revision, covered + 1);  // no gap without a resync
    }
    EXPECT_GT(r.revision, covered);
    covered = r.revision;
  }
  EXPECT_GE(resyncs, 1);
  handle->reset();
}

TEST_F(EmbeddedStoreTest, OpenMetadataStoreUris) {
  EXPECT_TRUE(OpenMetadataStore("", {.data_dir = dir_.path(), .clock = &clock_}).ok());
  EXPECT_TRUE(OpenMetadataStore("embedded", {.data_dir = dir_.path(), .clock = &clock_}).ok());
  EXPECT_TRUE(FileSystem::Default()->Exists(LogPath()));
  EXPECT_TRUE(absl::IsInvalidArgument(OpenMetadataStore("embedded", {}).status()));
  EXPECT_TRUE(OpenMetadataStore("etcd://127.0.0.1:2379", {}).ok());  // does not connect
  EXPECT_TRUE(OpenMetadataStore("etcd://localhost:1/", {}).ok());
  for (const char* bad : {"etcd://", "etcd://host", "etcd://:2379", "etcd://h:1/x", "zk://h:1",
                          "http://127.0.0.1:2379"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(OpenMetadataStore(bad, {}).status())) << bad;
  }
  EXPECT_EQ(PrefixEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixEnd(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixEnd("\xff"), "");
  EXPECT_EQ(PrefixEnd(""), "");
}

}  // namespace
}  // namespace strata
