// A subscribing (consumer-group) librdkafka consumer for group tests: it follows rebalances
// (eager or cooperative, whichever the assignor negotiates), records what it was assigned and
// revoked, and commits by hand.
//
//   GroupConsumer c(bootstrap, "g", {"topic"});
//   while (auto m = c.Poll(100)) { ...; ASSERT_EQ(c.Commit(*m), RD_KAFKA_RESP_ERR_NO_ERROR); }
//   c.Abandon();   // dies without leaving the group: its session must time out
//   ASSERT_TRUE(PollUntil({&a, &b}, 30000, [&] { return !a.assignment().empty(); }));
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/testing/rdkafka.h"

namespace strata::testing {

class GroupConsumer {
 public:
  // Manual commits (enable.auto.commit=false) and auto.offset.reset=earliest unless `extra`
  // says otherwise.
  GroupConsumer(const std::string& bootstrap, const std::string& group,
                const std::vector<std::string>& topics,
                const std::map<std::string, std::string>& extra = {});
  ~GroupConsumer();
  GroupConsumer(const GroupConsumer&) = delete;
  GroupConsumer& operator=(const GroupConsumer&) = delete;

  bool ok() const { return rk_ != nullptr; }
  const std::string& error() const { return error_; }

  // One poll: a message, or nullopt (nothing yet, or only events and errors).
  std::optional<Message> Poll(int timeout_ms);
  // Commits m.offset + 1 for m's partition, synchronously.
  rd_kafka_resp_err_t Commit(const Message& m);
  // Makes the next message of `partition` come from `offset` (after a failed commit).
  void Seek(int32_t partition, int64_t offset);
  // The group's committed offset of `partition` (-1001 = none), or nullopt on error.
  std::optional<int64_t> Committed(int32_t partition);
  // Leaves the group and closes.
  void Close();
  // Destroys the client without leaving the group, as if its process had died.
  void Abandon();

  // Partitions (of the first topic) currently assigned.
  std::set<int32_t> assignment() const;
  // Every assignment change: partitions added ("+") or taken away ("-"), in order.
  struct Change {
    bool added;
    std::set<int32_t> partitions;
  };
  std::vector<Change> changes() const;
  // The rebalance protocol librdkafka chose ("EAGER" or "COOPERATIVE"), after the first join.
  std::string protocol() const;
  std::string member_id() const;
  rd_kafka_t* handle() { return rk_; }

 private:
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque);
  rd_kafka_t* rk_ = nullptr;
  std::string error_;
  std::string topic_;
  mutable std::mutex mu_;
  std::set<int32_t> assigned_;
  std::vector<Change> changes_;
};

// Polls every member (dropping what it reads) until `done` holds or `timeout_ms` passed;
// returns whether it held. For waiting on group changes without traffic.
template <typename Pred>
bool PollUntil(const std::vector<GroupConsumer*>& members, int timeout_ms, Pred done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    for (GroupConsumer* c : members) c->Poll(20);
  }
  return done();
}

}  // namespace strata::testing
