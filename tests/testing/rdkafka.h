// Small helpers over librdkafka's C API for integration tests: a producer and an assign/seek
// consumer configured with plain key=value strings, plus a TCP proxy installed through
// librdkafka's connect_cb that routes (and can cut) every connection the client opens.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace strata::testing {

struct Message {
  int32_t partition = -1;
  int64_t offset = -1;
  int64_t timestamp = -1;
  std::string key;
  std::string value;
};

Message ToMessage(const rd_kafka_message_t* m);

// A librdkafka configuration with every `conf` entry set; nullptr and *error when one is bad.
rd_kafka_conf_t* NewConf(const std::map<std::string, std::string>& conf, std::string* error);

// Creates a librdkafka handle of `type` with `conf`; returns nullptr and fills *error on failure.
rd_kafka_t* NewClient(rd_kafka_type_t type, const std::map<std::string, std::string>& conf,
                      std::string* error, void (*configure)(rd_kafka_conf_t*) = nullptr);

class Producer {
 public:
  explicit Producer(const std::map<std::string, std::string>& conf,
                    void (*configure)(rd_kafka_conf_t*) = nullptr);
  ~Producer();
  bool ok() const { return rk_ != nullptr; }
  const std::string& error() const { return error_; }
  // Queues one message (partition -1 = partitioner); returns the librdkafka error code.
  rd_kafka_resp_err_t Send(const std::string& topic, const std::string* key,
                           const std::string& value, int32_t partition = -1, int64_t timestamp = 0);
  // Waits for every delivery report; returns the number of failed deliveries.
  int Flush(int timeout_ms = 30000);
  // Delivery reports so far: offset per message in send order (-1 if failed).
  const std::vector<int64_t>& delivered() const { return delivered_; }
  rd_kafka_t* handle() { return rk_; }

 private:
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);
  rd_kafka_t* rk_ = nullptr;
  std::string error_;
  std::vector<int64_t> delivered_;
  int failures_ = 0;
  uintptr_t sent_ = 0;
};

// Reads partitions from given offsets until `count` messages arrived or `timeout_ms` passed.
std::vector<Message> Consume(const std::string& bootstrap, const std::string& topic,
                             const std::vector<int32_t>& partitions, int64_t start_offset,
                             size_t count, int timeout_ms = 30000,
                             const std::map<std::string, std::string>& extra = {});

// Creates a topic with the librdkafka admin API; returns the error string ("" on success).
std::string CreateTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                        const std::map<std::string, std::string>& configs = {},
                        int replication_factor = 1);

// A recording/cutting proxy for every connection librdkafka makes (install with Configure on
// the client's conf). `cut_after_bytes` > 0 closes a connection once that many client->broker
// bytes passed through it, at most `max_cuts` times in all.
class ConnectionProxy {
 public:
  static void Install(rd_kafka_conf_t* conf);
  static void Reset(uint64_t cut_after_bytes, int max_cuts);
  static int cuts();
  static void JoinAll();
};

}  // namespace strata::testing
