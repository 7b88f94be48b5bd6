// EtcdMetadataStore beyond the conformance suite: the gateway's JSON (pinned bodies), watches
// that survive an etcd restart without losing or repeating events, bounded waits when etcd is
// down or silent, and background keep-alives that report a lost lease.
#include "replication/etcd_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "replication/etcd_json.h"
#include "tests/replication/etcd_process.h"
#include "tests/replication/store_testing.h"

namespace strata {
namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t ElapsedMs(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

TEST(EtcdJson, RequestsAndResponses) {
  EXPECT_EQ(etcd_json::PutRequest("foo", "bar", 7), R"({"key":"Zm9v","lease":"7","value":"YmFy"})");
  EXPECT_EQ(etcd_json::RangeRequest("foo", ""), R"({"key":"Zm9v"})");
  EXPECT_EQ(etcd_json::CasRequest("k", 0, std::nullopt, kNoLease),
            R"({"compare":[{"key":"aw==","mod_revision":"0","result":"EQUAL","target":"MOD"}],)"
            R"("failure":[{"request_range":{"key":"aw=="}}],)"
            R"("success":[{"request_delete_range":{"key":"aw=="}}]})");
  etcd_json::KeyRange all = etcd_json::PrefixRange("");
  EXPECT_EQ(all.key, std::string(1, '\0'));
  EXPECT_EQ(all.range_end, std::string(1, '\0'));
  EXPECT_EQ(etcd_json::PrefixRange("/a").range_end, "/b");

  // Bodies as etcd 3.4 sends them (captured with curl).
  auto range = etcd_json::ParseRange(
      R"({"header":{"cluster_id":"1","member_id":"2","revision":"2","raft_term":"2"},)"
      R"("kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1",)"
      R"("value":"YmFy"}],"count":"1"})");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->revision, 2);
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(
      range->kvs[0],
      (KeyValue{
          .key = "foo", .value = "bar", .create_revision = 2, .mod_revision = 2, .version = 1}));
  auto failed_cas = etcd_json::ParseCas(
      R"({"header":{"revision":"2"},"responses":[{"response_range":{"header":{"revision":"2"},)"
      R"("kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1",)"
      R"("value":"YmF6"}],"count":"1"}}]})");
  ASSERT_TRUE(failed_cas.ok());
  EXPECT_FALSE(failed_cas->applied);
  EXPECT_EQ(failed_cas->current->value, "baz");
  auto watch = etcd_json::ParseWatchMessage(
      R"({"result":{"header":{"revision":"5"},"events":[{"type":"DELETE",)"
      R"("kv":{"key":"YTE=","mod_revision":"5"}}]}})");
  ASSERT_TRUE(watch.ok());
  ASSERT_EQ(watch->events.size(), 1u);
  EXPECT_EQ(watch->events[0].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(watch->events[0].kv.key, "a1");
  auto compacted = etcd_json::ParseWatchMessage(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"4"}})");
  ASSERT_TRUE(compacted.ok());
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 4);
  EXPECT_EQ(*etcd_json::ParseKeepAliveTtl(R"({"result":{"header":{},"ID":"1"}})"), 0);

  absl::Status lease = etcd_json::ErrorFromResponse(
      404, R"({"error":"etcdserver: requested lease not found","code":5,)"
           R"("message":"etcdserver: requested lease not found"})");
  EXPECT_TRUE(absl::IsNotFound(lease)) << lease;
  EXPECT_TRUE(absl::IsUnavailable(etcd_json::ErrorFromResponse(503, "no json")));
  EXPECT_FALSE(etcd_json::ParseRange("{not json").ok());
}

TEST(EtcdStore, WatchResumesAfterEtcdRestartWithoutLosingEvents) {
  testing::EtcdProcess etcd;
  ASSERT_TRUE(etcd.ok()) << etcd.log();
  auto store = EtcdMetadataStore::Open({.endpoint = etcd.endpoint(), .request_timeout_ms = 2000});
  ASSERT_TRUE(store.ok());
  MetadataStore* s = store->get();
  testing::WatchRecorder watch;
  auto handle = s->Watch("/r/", 0, watch.Callback());
  ASSERT_TRUE(handle.ok()) << handle.status();
  std::vector<int64_t> revisions = {*s->Put("/r/1", "a"), *s->Put("/r/2", "b")};
  ASSERT_EQ(watch.WaitForEvents(2).size(), 2u);

  etcd.Kill();  // the watch stream breaks; puts fail meanwhile
  EXPECT_TRUE(absl::IsUnavailable(s->Put("/r/lost", "x").status()));
  ASSERT_TRUE(etcd.Start()) << etcd.log();
  // Written before the watch has reconnected: it must still get them, from its last revision.
  revisions.push_back(*s->Put("/r/3", "c"));
  revisions.push_back(s->Delete("/r/1")->revision);
  revisions.push_back(*s->Put("/r/4", "d"));

  auto events = watch.WaitForEvents(5, 10'000);
  ASSERT_EQ(events.size(), 5u) << etcd.log();
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].kv.mod_revision, revisions[i]);
  EXPECT_EQ(events[3].type, WatchEvent::Type::kDelete);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(watch.events().size(), 5u);  // nothing twice
}

TEST(EtcdStore, UnavailableWithinTheTimeoutWhenEtcdIsDown) {
  testing::EtcdProcess etcd;
  ASSERT_TRUE(etcd.ok()) << etcd.log();
  auto store = EtcdMetadataStore::Open(
      {.endpoint = etcd.endpoint(), .request_timeout_ms = 500, .connect_timeout_ms = 200});
  ASSERT_TRUE(store.ok());
  MetadataStore* s = store->get();
  ASSERT_TRUE(s->Put("/u/a", "1").ok());
  etcd.Kill();
  const auto start = SteadyClock::now();
  EXPECT_TRUE(absl::IsUnavailable(s->Get("/u/a").status()));
  EXPECT_TRUE(absl::IsUnavailable(s->Put("/u/a", "2").status()));
  EXPECT_TRUE(absl::IsUnavailable(s->CompareAndSet("/u/a", 0, "2").status()));
  EXPECT_TRUE(absl::IsUnavailable(s->Grant(5000).status()));
  EXPECT_TRUE(absl::IsUnavailable(s->Watch("/u/", 0, [](const WatchResponse&) {}).status()));
  EXPECT_LT(ElapsedMs(start), 5 * 600);
  ASSERT_TRUE(etcd.Start());
  EXPECT_EQ((**s->Get("/u/a")).value, "1");
}

TEST(EtcdStore, SilentServerTimesOut) {
  // Accepts connections (the kernel's backlog does) but never answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto store = OpenMetadataStore(absl::StrCat("etcd://127.0.0.1:", ntohs(addr.sin_port)),
                                 {.request_timeout_ms = 300});
  ASSERT_TRUE(store.ok());
  const auto start = SteadyClock::now();
  absl::Status s = (*store)->Put("/k", "v").status();
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_GE(ElapsedMs(start), 250);
  EXPECT_LT(ElapsedMs(start), 2000);
  close(fd);
}

TEST(EtcdStore, BackgroundKeepAliveReportsALostLease) {
  testing::EtcdProcess etcd;
  ASSERT_TRUE(etcd.ok()) << etcd.log();
  auto a = EtcdMetadataStore::Open({.endpoint = etcd.endpoint()});
  auto b = EtcdMetadataStore::Open({.endpoint = etcd.endpoint()});
  ASSERT_TRUE(a.ok() && b.ok());
  auto lease = (*a)->Grant(2000);
  ASSERT_TRUE(lease.ok()) << lease.status();
  testing::WatchRecorder lost;  // reused as a signal: one fake event when on_lost runs
  WatchCallback signal = lost.Callback();
  absl::Status reason;
  (*a)->KeepAliveInBackground(*lease, [&](absl::Status status) {
    reason = status;
    signal(WatchResponse{.events = {WatchEvent{}}});
  });
  // Another broker (or an operator) revokes it: the holder learns at its next refresh.
  ASSERT_TRUE((*b)->Revoke(*lease).ok());
  ASSERT_EQ(lost.WaitForEvents(1, 5000).size(), 1u);
  EXPECT_TRUE(absl::IsNotFound(reason)) << reason;
}

}  // namespace
}  // namespace strata
