// Crash safety of the embedded metadata store: the process "dies" after the N-th mutating file
// call (FaultInjectionFileSystem::CrashAfter), unsynced data is dropped (power loss), and the
// reopened store must hold exactly the acknowledged operations (plus, possibly, the one in
// flight) — for every N until a run completes. The workload includes leases and log rewrites, so
// crashes also land inside the temp-file/rename/dir-fsync of a rewrite and inside Open.
#include <stdlib.h>

#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/fault_fs.h"
#include "gtest/gtest.h"
#include "replication/embedded_store.h"
#include "tests/testing/temp_dir.h"

namespace strata {
namespace {

constexpr int kOps = 60;

// What a reader sees of the non-leased keys (leased ones vanish on reopen by design).
using Visible = std::map<std::string, std::tuple<std::string, int64_t, int64_t, int64_t>>;

Visible VisibleState(MetadataStore* store) {
  Visible out;
  auto all = store->GetPrefix("");
  EXPECT_TRUE(all.ok()) << all.status();
  if (!all.ok()) return out;
  for (const KeyValue& kv : all->kvs) {
    if (kv.lease != kNoLease) continue;
    out[kv.key] = {kv.value, kv.create_revision, kv.mod_revision, kv.version};
  }
  return out;
}

// Operation `i` of a fixed workload: puts, compare-and-sets, deletes, leases, big values.
absl::Status RunOp(MetadataStore* s, int i) {
  const std::string key = absl::StrCat("/k", i % 5);
  switch (i % 6) {
    case 0:
    case 4:
      return s->Put(key, absl::StrCat("value-", i, std::string(i % 4 == 0 ? 200 : 10, 'x')))
          .status();
    case 1: {
      auto kv = s->Get(key);
      if (!kv.ok()) return kv.status();
      int64_t expected = kv->has_value() ? (*kv)->mod_revision : 0;
      auto r = s->CompareAndSet(key, expected, absl::StrCat("cas-", i));
      if (!r.ok()) return r.status();
      return r->applied ? absl::OkStatus() : absl::InternalError("CAS did not apply");
    }
    case 2:
      return s->Delete(absl::StrCat("/k", (i + 2) % 5)).status();
    case 3: {
      auto lease = s->Grant(60'000);
      if (!lease.ok()) return lease.status();
      return s->Put(absl::StrCat("/session/", i), "held", *lease).status();
    }
    default:
      return s->Put("/big", std::string(300, static_cast<char>('a' + i % 26))).status();
  }
}

EmbeddedStoreOptions Options(const std::string& dir, FileSystem* fs, Clock* clock) {
  // A small rewrite threshold so that the workload rewrites the log several times.
  return {.dir = dir, .fs = fs, .clock = clock, .rewrite_min_bytes = 1024};
}

TEST(EmbeddedStoreCrashTest, CrashAtEachMutatingFileCallKeepsAcknowledgedPrefix) {
  // ~20,000 fsyncs: on tmpfs they cost nothing, and the fault-injecting file system simulates the
  // power loss itself, so real durability is not what this test measures.
  if (FileSystem::Default()->IsDirectory("/dev/shm")) setenv("TMPDIR", "/dev/shm", 1);
  ManualClock clock;
  // The expected visible state after each number of acknowledged operations.
  std::vector<Visible> expected;
  {
    testing::TempDir dir;
    auto store = EmbeddedMetadataStore::Open(Options(dir.Sub("m"), FileSystem::Default(), &clock));
    ASSERT_TRUE(store.ok()) << store.status();
    expected.push_back(VisibleState(store->get()));
    for (int i = 0; i < kOps; ++i) {
      ASSERT_TRUE(RunOp(store->get(), i).ok()) << i;
      expected.push_back(VisibleState(store->get()));
    }
  }
  int runs = 0;
  for (int64_t crash_after = 0;; ++crash_after) {
    ASSERT_LT(crash_after, 2000) << "the workload never completed";
    SCOPED_TRACE(absl::StrCat("crash_after=", crash_after));
    testing::TempDir dir;
    FaultInjectionFileSystem fs(FileSystem::Default());
    fs.CrashAfter(crash_after);
    int acked = 0;
    {
      auto store = EmbeddedMetadataStore::Open(Options(dir.Sub("m"), &fs, &clock));
      while (store.ok() && acked < kOps && RunOp(store->get(), acked).ok()) ++acked;
    }
    const bool crashed = fs.crashed();
    ASSERT_TRUE(fs.DropUnsyncedData().ok());
    auto reopened = EmbeddedMetadataStore::Open(Options(dir.Sub("m"), &fs, &clock));
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    Visible actual = VisibleState(reopened->get());
    const bool matches =
        actual == expected[acked] || (acked < kOps && actual == expected[acked + 1]);
    EXPECT_TRUE(matches) << "acked=" << acked;
    // The reopened store keeps working, with a revision above everything it holds.
    auto r = (*reopened)->Put("/after", "crash");
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& [key, kv] : actual) EXPECT_GT(*r, std::get<2>(kv)) << key;
    ++runs;
    if (!crashed) break;
  }
  EXPECT_GT(runs, kOps);
}

}  // namespace
}  // namespace strata
