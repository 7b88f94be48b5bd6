// One suite, two implementations: every test here runs against the embedded store (ManualClock)
// and against a real etcd (tests/replication/etcd_process.h), so they mean the same thing by
// revision, version, compare-and-set, lease and watch.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "replication/metadata_store.h"
#include "tests/replication/store_testing.h"

namespace strata {
namespace {

using testing::EmbeddedEnv;
using testing::EtcdEnv;
using testing::WatchRecorder;

template <typename Env>
class MetadataStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = env_.Open();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    // etcd is shared by all tests: each uses its own prefix.
    prefix_ =
        absl::StrCat("/", ::testing::UnitTest::GetInstance()->current_test_info()->name(), "/");
  }
  std::string K(absl::string_view name) { return absl::StrCat(prefix_, name); }
  int64_t MustPut(absl::string_view key, absl::string_view value, LeaseId lease = kNoLease) {
    auto r = store_->Put(key, value, lease);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : -1;
  }
  KeyValue MustGet(absl::string_view key) {
    auto r = store_->Get(key);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r.ok() && r->has_value()) << key;
    return r.ok() && r->has_value() ? **r : KeyValue{};
  }

  Env env_;
  std::unique_ptr<MetadataStore> store_;
  std::string prefix_;
};

using Envs = ::testing::Types<EmbeddedEnv, EtcdEnv>;
class EnvNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kIsEtcd ? "Etcd" : "Embedded";
  }
};
TYPED_TEST_SUITE(MetadataStoreConformance, Envs, EnvNames);

TYPED_TEST(MetadataStoreConformance, PutAndGetTrackRevisionsAndVersions) {
  auto missing = this->store_->Get(this->K("missing"));
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());

  const int64_t r1 = this->MustPut(this->K("a"), "one");
  KeyValue kv = this->MustGet(this->K("a"));
  EXPECT_EQ(kv.value, "one");
  EXPECT_EQ(kv.create_revision, r1);
  EXPECT_EQ(kv.mod_revision, r1);
  EXPECT_EQ(kv.version, 1);
  EXPECT_EQ(kv.lease, kNoLease);

  const int64_t r2 = this->MustPut(this->K("a"), "two");
  EXPECT_GT(r2, r1);
  kv = this->MustGet(this->K("a"));
  EXPECT_EQ(kv.value, "two");
  EXPECT_EQ(kv.create_revision, r1);
  EXPECT_EQ(kv.mod_revision, r2);
  EXPECT_EQ(kv.version, 2);

  // Binary keys and values, empty values.
  const std::string key = this->K(std::string("bin\0\xff", 5));
  this->MustPut(key, std::string("\0\x01\xfe", 3));
  EXPECT_EQ(this->MustGet(key).value, std::string("\0\x01\xfe", 3));
  this->MustPut(this->K("empty"), "");
  EXPECT_EQ(this->MustGet(this->K("empty")).value, "");
}

TYPED_TEST(MetadataStoreConformance, CompareAndSetOnModRevision) {
  MetadataStore* s = this->store_.get();
  const std::string key = this->K("state");
  // 0 = the key must not exist.
  auto created = s->CompareAndSet(key, 0, "v1");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->applied);
  EXPECT_EQ(this->MustGet(key).mod_revision, created->revision);

  auto again = s->CompareAndSet(key, 0, "other");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->applied);
  ASSERT_TRUE(again->current.has_value());
  EXPECT_EQ(again->current->value, "v1");
  EXPECT_EQ(again->current->mod_revision, created->revision);

  auto updated = s->CompareAndSet(key, created->revision, "v2");
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_TRUE(updated->applied);
  EXPECT_GT(updated->revision, created->revision);

  // A stale writer (still holding the first version) is fenced and told what is there now.
  auto stale = s->CompareAndSet(key, created->revision, "v3");
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_FALSE(stale->applied);
  ASSERT_TRUE(stale->current.has_value());
  EXPECT_EQ(stale->current->value, "v2");
  EXPECT_EQ(stale->current->version, 2);
  EXPECT_EQ(this->MustGet(key).value, "v2");

  // Expecting a version of a key that does not exist fails with no current value.
  auto absent = s->CompareAndSet(this->K("absent"), updated->revision, "x");
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_FALSE(absent->applied);
  EXPECT_FALSE(absent->current.has_value());
}

TYPED_TEST(MetadataStoreConformance, DeleteAndCompareAndDelete) {
  MetadataStore* s = this->store_.get();
  auto nothing = s->Delete(this->K("none"));
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_FALSE(nothing->deleted);

  const int64_t r1 = this->MustPut(this->K("a"), "1");
  auto deleted = s->Delete(this->K("a"));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(deleted->deleted);
  EXPECT_GT(deleted->revision, r1);
  EXPECT_FALSE(s->Get(this->K("a"))->has_value());

  // Re-created keys start over: new create_revision, version 1.
  const int64_t r2 = this->MustPut(this->K("a"), "again");
  KeyValue kv = this->MustGet(this->K("a"));
  EXPECT_EQ(kv.create_revision, r2);
  EXPECT_EQ(kv.version, 1);

  auto wrong = s->CompareAndDelete(this->K("a"), r1);
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_FALSE(wrong->applied);
  ASSERT_TRUE(wrong->current.has_value());
  EXPECT_EQ(wrong->current->mod_revision, r2);

  auto right = s->CompareAndDelete(this->K("a"), r2);
  ASSERT_TRUE(right.ok()) << right.status();
  EXPECT_TRUE(right->applied);
  EXPECT_FALSE(s->Get(this->K("a"))->has_value());

  auto gone = s->CompareAndDelete(this->K("a"), r2);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_FALSE(gone->applied);
  EXPECT_FALSE(gone->current.has_value());
  EXPECT_TRUE(absl::IsInvalidArgument(s->CompareAndDelete(this->K("a"), 0).status()));
}

TYPED_TEST(MetadataStoreConformance, GetPrefixIsOrderedAndBounded) {
  for (const char* name : {"p/b", "p/a/x", "p0", "o", "p/\xff", "p/a", "p"}) {
    this->MustPut(this->K(name), name);
  }
  const int64_t last = this->MustPut(this->K("p/c"), "p/c");
  auto range = this->store_->GetPrefix(this->K("p/"));
  ASSERT_TRUE(range.ok()) << range.status();
  std::vector<std::string> keys;
  for (const KeyValue& kv : range->kvs) keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{this->K("p/a"), this->K("p/a/x"), this->K("p/b"),
                                            this->K("p/c"), this->K("p/\xff")}));
  EXPECT_GE(range->revision, last);
  EXPECT_EQ(range->kvs[1].value, "p/a/x");

  auto all = this->store_->GetPrefix(this->prefix_);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->kvs.size(), 8u);
  EXPECT_TRUE(std::is_sorted(all->kvs.begin(), all->kvs.end(),
                             [](const KeyValue& a, const KeyValue& b) { return a.key < b.key; }));
  auto none = this->store_->GetPrefix(this->K("q/"));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->kvs.empty());
}

TYPED_TEST(MetadataStoreConformance, LeaseExpiryRemovesItsKeys) {
  MetadataStore* s = this->store_.get();
  auto lease = s->Grant(TypeParam::kLeaseTtlMs);
  ASSERT_TRUE(lease.ok()) << lease.status();
  WatchRecorder watch;
  auto handle = s->Watch(this->prefix_, 0, watch.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();

  this->MustPut(this->K("ephemeral"), "broker-1", *lease);
  this->MustPut(this->K("durable"), "stays");
  EXPECT_EQ(this->MustGet(this->K("ephemeral")).lease, *lease);
  EXPECT_TRUE(s->KeepAlive(*lease).ok());

  this->env_.PassTime(s, TypeParam::kLeaseTtlMs + 100);
  EXPECT_TRUE(testing::WaitUntilGone(s, this->K("ephemeral"), 8000));
  EXPECT_TRUE(s->Get(this->K("durable"))->has_value());
  EXPECT_TRUE(absl::IsNotFound(s->KeepAlive(*lease)));
  EXPECT_TRUE(absl::IsNotFound(s->Put(this->K("late"), "x", *lease).status()));

  auto events = watch.WaitForEvents(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events[2].kv.key, this->K("ephemeral"));
}

TYPED_TEST(MetadataStoreConformance, RevokeDeletesKeysAndKeepAliveKeepsLeases) {
  MetadataStore* s = this->store_.get();
  auto revoked = s->Grant(TypeParam::kLeaseTtlMs);
  auto kept = s->Grant(TypeParam::kLeaseTtlMs);
  ASSERT_TRUE(revoked.ok() && kept.ok());
  EXPECT_NE(*revoked, *kept);
  this->MustPut(this->K("r1"), "", *revoked);
  this->MustPut(this->K("r2"), "", *revoked);
  this->MustPut(this->K("k"), "", *kept);
  ASSERT_TRUE(s->Revoke(*revoked).ok());
  EXPECT_FALSE(s->Get(this->K("r1"))->has_value());
  EXPECT_FALSE(s->Get(this->K("r2"))->has_value());
  EXPECT_TRUE(absl::IsNotFound(s->Revoke(*revoked)));

  bool lost = false;
  s->KeepAliveInBackground(*kept, [&lost](absl::Status) { lost = true; });
  this->env_.PassTime(s, TypeParam::kLeaseTtlMs + 1000);
  EXPECT_TRUE(s->Get(this->K("k"))->has_value());
  EXPECT_TRUE(s->KeepAlive(*kept).ok());
  ASSERT_TRUE(s->Revoke(*kept).ok());
  EXPECT_FALSE(s->Get(this->K("k"))->has_value());
  EXPECT_FALSE(lost);
}

TYPED_TEST(MetadataStoreConformance, WatchSeesPutsAndDeletesInOrder) {
  MetadataStore* s = this->store_.get();
  WatchRecorder watch;
  auto handle = s->Watch(this->K("w/"), 0, watch.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  std::vector<int64_t> revisions;
  revisions.push_back(this->MustPut(this->K("w/a"), "1"));
  this->MustPut(this->K("elsewhere"), "not watched");
  revisions.push_back(this->MustPut(this->K("w/b"), "2"));
  auto del = s->Delete(this->K("w/a"));
  ASSERT_TRUE(del.ok());
  revisions.push_back(del->revision);
  auto cas = s->CompareAndSet(this->K("w/b"), revisions[1], "3");
  ASSERT_TRUE(cas.ok() && cas->applied);
  revisions.push_back(cas->revision);

  auto events = watch.WaitForEvents(4);
  ASSERT_EQ(events.size(), 4u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].kv.mod_revision, revisions[i]) << i;
  }
  EXPECT_EQ(events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events[0].kv.key, this->K("w/a"));
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[0].kv.version, 1);
  EXPECT_EQ(events[2].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events[2].kv.key, this->K("w/a"));
  EXPECT_EQ(events[3].kv.value, "3");
  EXPECT_EQ(events[3].kv.version, 2);

  // Cancelled by destroying the handle: nothing more arrives.
  handle->reset();
  this->MustPut(this->K("w/c"), "after cancel");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(watch.events().size(), 4u);
}

TYPED_TEST(MetadataStoreConformance, WatchFromAPastRevisionReplaysThenFollows) {
  MetadataStore* s = this->store_.get();
  const int64_t r1 = this->MustPut(this->K("h/1"), "a");
  const int64_t r2 = this->MustPut(this->K("h/2"), "b");
  WatchRecorder watch;
  auto handle = s->Watch(this->K("h/"), r2, watch.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  const int64_t r3 = this->MustPut(this->K("h/3"), "c");
  auto events = watch.WaitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv.mod_revision, r2);
  EXPECT_EQ(events[1].kv.mod_revision, r3);
  EXPECT_GT(r2, r1);
}

TYPED_TEST(MetadataStoreConformance, WatchFromAFutureRevisionSkipsEarlierChanges) {
  MetadataStore* s = this->store_.get();
  const int64_t now = this->MustPut(this->K("f/0"), "x");
  WatchRecorder watch;
  auto handle = s->Watch(this->K("f/"), now + 3, watch.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  this->MustPut(this->K("f/1"), "skipped");
  this->MustPut(this->K("f/2"), "skipped");
  const int64_t wanted = this->MustPut(this->K("f/3"), "seen");
  auto events = watch.WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.mod_revision, wanted);
  EXPECT_EQ(events[0].kv.value, "seen");
}

TYPED_TEST(MetadataStoreConformance, WatchFromACompactedRevisionResyncs) {
  MetadataStore* s = this->store_.get();
  const int64_t r1 = this->MustPut(this->K("c/1"), "a");
  this->MustPut(this->K("c/2"), "b");
  const int64_t r3 = this->MustPut(this->K("c/3"), "c");
  ASSERT_TRUE(s->Compact(r3).ok());
  EXPECT_TRUE(s->Compact(r3).ok());  // again: nothing to do
  EXPECT_TRUE(absl::IsOutOfRange(s->Compact(r3 + 1000)));

  WatchRecorder watch;
  auto handle = s->Watch(this->K("c/"), r1, watch.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  auto responses = watch.WaitForResponses(1);
  ASSERT_GE(responses.size(), 1u);
  EXPECT_TRUE(responses[0].resync);
  EXPECT_TRUE(responses[0].events.empty());
  EXPECT_EQ(responses[0].revision, r3 - 1);

  // After a resync the caller re-reads; the watch continues without a gap.
  auto state = s->GetPrefix(this->K("c/"));
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->kvs.size(), 3u);
  const int64_t r4 = this->MustPut(this->K("c/4"), "d");
  auto events = watch.WaitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv.mod_revision, r3);
  EXPECT_EQ(events[1].kv.mod_revision, r4);
}

TYPED_TEST(MetadataStoreConformance, InvalidArguments) {
  MetadataStore* s = this->store_.get();
  EXPECT_TRUE(absl::IsInvalidArgument(s->Put("", "x").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(s->Grant(0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(s->CompareAndSet(this->K("x"), -1, "x").status()));
  EXPECT_TRUE(absl::IsNotFound(s->Put(this->K("x"), "x", /*lease=*/123456789).status()));
}

}  // namespace
}  // namespace strata
