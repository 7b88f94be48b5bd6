#include "tests/testing/rdkafka_group.h"

namespace strata::testing {

namespace {

std::set<int32_t> Partitions(const rd_kafka_topic_partition_list_t* parts) {
  std::set<int32_t> out;
  for (int i = 0; i < parts->cnt; ++i) out.insert(parts->elems[i].partition);
  return out;
}

}  // namespace

GroupConsumer::GroupConsumer(const std::string& bootstrap, const std::string& group,
                             const std::vector<std::string>& topics,
                             const std::map<std::string, std::string>& extra)
    : topic_(topics.empty() ? "" : topics[0]) {
  std::map<std::string, std::string> conf = {{"bootstrap.servers", bootstrap},
                                             {"group.id", group},
                                             {"enable.auto.commit", "false"},
                                             {"auto.offset.reset", "earliest"},
                                             {"fetch.wait.max.ms", "100"}};
  for (const auto& [k, v] : extra) conf[k] = v;
  rd_kafka_conf_t* c = NewConf(conf, &error_);
  if (c == nullptr) return;
  rd_kafka_conf_set_opaque(c, this);
  rd_kafka_conf_set_rebalance_cb(c, &GroupConsumer::OnRebalance);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
  if (rk_ == nullptr) {
    error_ = err;
    return;
  }
  rd_kafka_poll_set_consumer(rk_);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  for (const auto& t : topics) rd_kafka_topic_partition_list_add(list, t.c_str(), -1);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) error_ = rd_kafka_err2str(e);
}

GroupConsumer::~GroupConsumer() { Close(); }

void GroupConsumer::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<GroupConsumer*>(opaque);
  bool cooperative = std::string(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
  if (cooperative) {
    rd_kafka_error_t* e =
        assign ? rd_kafka_incremental_assign(rk, parts) : rd_kafka_incremental_unassign(rk, parts);
    if (e != nullptr) rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk, assign ? parts : nullptr);
  }
  std::lock_guard<std::mutex> lock(self->mu_);
  std::set<int32_t> changed = Partitions(parts);
  if (assign) {
    self->assigned_.insert(changed.begin(), changed.end());
  } else {
    for (int32_t p : changed) self->assigned_.erase(p);
  }
  self->changes_.push_back({assign, changed});
}

std::optional<Message> GroupConsumer::Poll(int timeout_ms) {
  if (rk_ == nullptr) return std::nullopt;
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, timeout_ms);
  if (m == nullptr) return std::nullopt;
  std::optional<Message> out;
  if (!m->err) out = ToMessage(m);
  rd_kafka_message_destroy(m);
  return out;
}

rd_kafka_resp_err_t GroupConsumer::Commit(const Message& m) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic_.c_str(), m.partition)->offset = m.offset + 1;
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list, /*async=*/0);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[0].err;
  rd_kafka_topic_partition_list_destroy(list);
  return err;
}

void GroupConsumer::Seek(int32_t partition, int64_t offset) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic_.c_str(), partition)->offset = offset;
  rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_, list, 5000);
  if (e != nullptr) rd_kafka_error_destroy(e);
  rd_kafka_topic_partition_list_destroy(list);
}

std::optional<int64_t> GroupConsumer::Committed(int32_t partition) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic_.c_str(), partition);
  rd_kafka_resp_err_t err = rd_kafka_committed(rk_, list, 10000);
  std::optional<int64_t> out;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    out = list->elems[0].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

void GroupConsumer::Close() {
  if (rk_ == nullptr) return;
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

void GroupConsumer::Abandon() {
  if (rk_ == nullptr) return;
  rd_kafka_destroy_flags(rk_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  rk_ = nullptr;
}

std::set<int32_t> GroupConsumer::assignment() const {
  std::lock_guard<std::mutex> lock(mu_);
  return assigned_;
}

std::vector<GroupConsumer::Change> GroupConsumer::changes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return changes_;
}

std::string GroupConsumer::protocol() const {
  return rk_ == nullptr ? "" : rd_kafka_rebalance_protocol(rk_);
}

std::string GroupConsumer::member_id() const {
  if (rk_ == nullptr) return "";
  char* id = rd_kafka_memberid(rk_);
  std::string out = id ? id : "";
  if (id) rd_kafka_mem_free(rk_, id);
  return out;
}

}  // namespace strata::testing
