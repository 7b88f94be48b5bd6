// The fixture of the cluster tests: a real etcd and three real `strata serve` brokers on
// loopback, optionally each behind its own TcpProxy to etcd (so a test can cut one broker off
// the metadata store while clients and the other brokers still reach it), with helpers to read
// partition states from etcd, create topics, compare replicas and explain a failed wait.
//
//   class MyTest : public ClusterHarness {};
//   TEST_F(MyTest, X) {
//     StartCluster({"replica.lag.time.max.ms=5000"}, {.proxied = true});
//     CreateTopic("t", 1, 2);
//     EtcdLink(State("t", 0).state.leader).Cut();
//   }
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "replication/cluster_membership.h"
#include "replication/etcd_store.h"
#include "replication/partition_state.h"
#include "tests/replication/etcd_process.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/rdkafka.h"
#include "tests/testing/tcp_proxy.h"

namespace strata {

inline bool Eventually(const std::function<bool()>& done, int timeout_ms = 30'000) {
  for (int waited = 0; waited <= timeout_ms; waited += 100) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

inline std::string FileBytes(const std::string& path) {
  auto s = ReadFileToString(FileSystem::Default(), path);
  return s.ok() ? *s : "";
}

// The concatenated .log segment files of one partition directory (its records, byte for byte).
inline std::string SegmentBytes(const std::string& dir) {
  auto names = FileSystem::Default()->ListDir(dir);
  if (!names.ok()) return "";
  std::vector<std::string> logs;
  for (const std::string& n : *names) {
    if (n.size() > 4 && n.substr(n.size() - 4) == ".log") logs.push_back(n);
  }
  std::sort(logs.begin(), logs.end());
  std::string out;
  for (const std::string& n : logs) out += FileBytes(dir + "/" + n);
  return out;
}

// librdkafka producer settings for acks=all tests: retries until message.timeout.ms.
inline std::map<std::string, std::string> ProducerConf(const std::string& bootstrap,
                                                       int in_flight = 1) {
  return {{"bootstrap.servers", bootstrap},
          {"acks", "all"},
          {"enable.idempotence", "false"},
          {"max.in.flight.requests.per.connection", std::to_string(in_flight)},
          {"retries", "1000000"},
          {"retry.backoff.ms", "100"},
          {"message.timeout.ms", "120000"},
          {"linger.ms", "5"},
          {"topic.metadata.refresh.interval.ms", "1000"}};
}

struct ClusterOptions {
  // Each broker reaches etcd through its own TcpProxy (ClusterHarness::EtcdLink(id)).
  bool proxied = false;
};

class ClusterHarness : public ::testing::Test {
 protected:
  // Starts the brokers 0, 1, 2 (sessions of 3 s, lag time 3 s unless `extra` sets them) and
  // waits until all three are registered.
  void StartCluster(std::vector<std::string> extra = {}, ClusterOptions options = {}) {
    ASSERT_TRUE(etcd_.ok()) << etcd_.log();
    bool lag_set = false;
    for (const auto& e : extra) lag_set |= e.rfind("replica.lag.time.max.ms", 0) == 0;
    if (!lag_set) extra.push_back("replica.lag.time.max.ms=3000");
    for (int id = 0; id < 3; ++id) {
      std::string metadata = etcd_.uri();
      if (options.proxied) {
        links_.push_back(std::make_unique<testing::TcpProxy>(etcd_.client_port()));
        metadata = absl::StrCat("etcd://127.0.0.1:", links_.back()->port());
      }
      std::vector<std::string> args{"--metadata",  metadata,
                                    "--broker-id", std::to_string(id),
                                    "--set",       "broker.session.timeout.ms=3000",
                                    "--set",       "default.replication.factor=3",
                                    "--set",       "offsets.topic.num.partitions=3",
                                    "--set",       "replica.fetch.backoff.ms=200"};
      for (const auto& e : extra) {
        args.push_back("--set");
        args.push_back(e);
      }
      brokers_.push_back(std::make_unique<testing::BrokerProcess>(args));
      ASSERT_TRUE(brokers_.back()->ok()) << brokers_.back()->log();
    }
    auto store = EtcdMetadataStore::Open({.endpoint = etcd_.endpoint()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ASSERT_TRUE(Eventually([&] { return Registered().size() == 3; }));
  }

  std::string Bootstrap() const {
    std::vector<std::string> out;
    for (const auto& b : brokers_) out.push_back(b->bootstrap());
    return absl::StrJoin(out, ",");
  }

  // The brokers registered in etcd now.
  std::vector<int32_t> Registered() {
    auto v = ReadClusterView(store_.get(), "/strata/");
    return v.ok() ? v->BrokerIds() : std::vector<int32_t>{};
  }

  PartitionRecord State(const std::string& topic, int32_t partition) {
    auto records = ReadPartitionStates(store_.get(), "/strata/");
    if (records.ok()) {
      for (const auto& r : *records) {
        if (r.topic == topic && r.partition == partition) return r;
      }
    }
    return {};
  }

  void CreateTopic(const std::string& name, int partitions, int min_insync,
                   std::map<std::string, std::string> configs = {}) {
    configs["min.insync.replicas"] = std::to_string(min_insync);
    std::string err = testing::CreateTopic(Bootstrap(), name, partitions, configs, 3);
    ASSERT_EQ(err, "");
    for (int p = 0; p < partitions; ++p) {
      ASSERT_TRUE(Eventually([&] { return State(name, p).state.isr.size() == 3; }));
    }
  }

  // Every broker holds the same bytes for the partition (and has some).
  bool Identical(const std::string& topic, int32_t partition, size_t* bytes = nullptr) {
    std::set<std::string> copies;
    for (const auto& b : brokers_) {
      copies.insert(SegmentBytes(absl::StrCat(b->data_dir(), "/", topic, "-", partition)));
    }
    if (bytes != nullptr) *bytes = copies.begin()->size();
    return copies.size() == 1 && !copies.begin()->empty();
  }

  testing::BrokerProcess& Broker(int32_t id) { return *brokers_[static_cast<size_t>(id)]; }
  // Broker `id`'s link to etcd (StartCluster with proxied = true).
  testing::TcpProxy& EtcdLink(int32_t id) { return *links_[static_cast<size_t>(id)]; }

  // For a failed wait: the topic's partition states and the brokers' replication log lines.
  std::string Diagnose(const std::string& topic) {
    std::string out;
    auto records = ReadPartitionStates(store_.get(), "/strata/");
    for (const auto& r : records.ok() ? *records : std::vector<PartitionRecord>{}) {
      if (r.topic != topic) continue;
      absl::StrAppend(&out, topic, "-", r.partition, " leader ", r.state.leader, " epoch ",
                      r.state.leader_epoch, " isr ", absl::StrJoin(r.state.isr, ","), "\n");
    }
    for (size_t id = 0; id < brokers_.size(); ++id) {
      const std::string log = brokers_[id]->log();
      std::vector<absl::string_view> lines = absl::StrSplit(log, '\n');
      bool crashed = false;
      for (size_t i = 0; i < lines.size(); ++i) {
        // Replication events, a crash report (Abseil's or a sanitizer's, with its stacks) and
        // whatever the broker wrote last.
        crashed = crashed || absl::StrContains(lines[i], "RAW:") ||
                  absl::StrContains(lines[i], "Sanitizer");
        if (crashed || absl::StrContains(lines[i], "replica") ||
            absl::StrContains(lines[i], "controller") || absl::StrContains(lines[i], "cluster.") ||
            i + 30 >= lines.size()) {
          absl::StrAppend(&out, "broker ", id, ": ", lines[i], "\n");
        }
      }
    }
    return out;
  }

  testing::EtcdProcess etcd_;
  std::vector<std::unique_ptr<testing::TcpProxy>> links_;  // before the brokers: outlive them
  std::vector<std::unique_ptr<testing::BrokerProcess>> brokers_;
  std::unique_ptr<MetadataStore> store_;
};

}  // namespace strata
