// Rebalance time as applications see it: 10 librdkafka consumers (eager "range", one thread
// each, as separate applications would be) subscribe to a 100-partition topic on an in-process
// broker. Measured from the action until every remaining member has its new assignment and
// together they own all 100 partitions:
//   form   all 10 subscribe at once (group.initial.rebalance.delay.ms = 0);
//   leave  one member closes (LeaveGroup);
//   join   a new member subscribes.
// Members learn of a rebalance from their next heartbeat, so heartbeat.interval.ms bounds the
// leave/join numbers from below; the benchmark runs with librdkafka's default (3000 ms) and with
// 100 ms.
//   build/release/perf/strata_group_rdkafka_bench [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "perf/bench_util.h"
#include "perf/broker_fixture.h"

namespace strata {
namespace {

constexpr int kPartitions = 100;

// One consumer polling on its own thread; `owned` is its current assignment size.
class Member {
 public:
  Member(const std::string& bootstrap, int heartbeat_ms) {
    char err[512];
    rd_kafka_conf_t* c = rd_kafka_conf_new();
    auto set = [&](const char* k, const std::string& v) {
      if (rd_kafka_conf_set(c, k, v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) abort();
    };
    set("bootstrap.servers", bootstrap);
    set("group.id", "bench");
    set("partition.assignment.strategy", "range");
    set("heartbeat.interval.ms", std::to_string(heartbeat_ms));
    set("session.timeout.ms", "30000");
    set("log_level", "3");
    rd_kafka_conf_set_opaque(c, this);
    rd_kafka_conf_set_rebalance_cb(c, [](rd_kafka_t* rk, rd_kafka_resp_err_t e,
                                         rd_kafka_topic_partition_list_t* parts, void* opaque) {
      auto* self = static_cast<Member*>(opaque);
      bool assign = e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
      rd_kafka_assign(rk, assign ? parts : nullptr);
      self->owned.store(assign ? parts->cnt : 0);
    });
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (rk_ == nullptr) abort();
    rd_kafka_poll_set_consumer(rk_);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, "events", -1);
    rd_kafka_subscribe(rk_, list);
    rd_kafka_topic_partition_list_destroy(list);
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 10)) rd_kafka_message_destroy(m);
      }
      rd_kafka_consumer_close(rk_);
      rd_kafka_destroy(rk_);
    });
  }
  ~Member() {
    stop_.store(true);
    thread_.join();
  }
  std::atomic<int> owned{0};

 private:
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Waits until the members own all partitions between them, each at least one; returns ms.
double WaitBalanced(const std::vector<std::unique_ptr<Member>>& members, int64_t start_ns) {
  while (true) {
    int total = 0;
    bool all = true;
    for (const auto& m : members) {
      int n = m->owned.load();
      total += n;
      all = all && n > 0;
    }
    if (all && total == kPartitions) return static_cast<double>(bench::NowNs() - start_ns) / 1e6;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void BM_RdkafkaRebalance(benchmark::State& state) {
  int heartbeat_ms = static_cast<int>(state.range(0));
  bench::BrokerFixture f([](server::BrokerConfig& c) { c.group.initial_rebalance_delay_ms = 0; });
  if (!f.broker->partitions().CreateTopic("events", kPartitions, {}, false).ok()) abort();
  std::string bootstrap = "127.0.0.1:" + std::to_string(f.broker->port());
  double form = 0, leave = 0, join = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<Member>> members;
    int64_t t0 = bench::NowNs();
    for (int i = 0; i < 10; ++i)
      members.push_back(std::make_unique<Member>(bootstrap, heartbeat_ms));
    form += WaitBalanced(members, t0);
    int64_t t1 = bench::NowNs();
    members.pop_back();  // closes: LeaveGroup
    leave += WaitBalanced(members, t1);
    int64_t t2 = bench::NowNs();
    members.push_back(std::make_unique<Member>(bootstrap, heartbeat_ms));
    join += WaitBalanced(members, t2);
    state.SetIterationTime(static_cast<double>(bench::NowNs() - t0) / 1e9);
  }
  double n = static_cast<double>(state.iterations());
  state.counters["form_ms"] = form / n;
  state.counters["member_leaves_ms"] = leave / n;
  state.counters["member_joins_ms"] = join / n;
}
BENCHMARK(BM_RdkafkaRebalance)
    ->Arg(3000)
    ->Arg(100)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace strata
