// strata bench produce|consume: end-to-end throughput (and produce latency) against a running
// broker, through the client library — the numbers an application would see.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/admin.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "common/clock.h"
#include "tools/client_flags.h"
#include "tools/commands.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata bench produce|consume --bootstrap HOST:PORT [--topic strata-bench] [flags]\n"
    "  produce: --records N (100000) --record-bytes B (100) --batch-bytes B (64KiB)\n"
    "           --linger-ms MS (5) --acks 0|1|-1|all (1) --compression C (none) --idempotent\n"
    "           --max-in-flight N (5) --partitions N (creates the topic with N if missing, 1)\n"
    "           --replication-factor R (for a created topic; broker default)\n"
    "           --rate R (records per second, evenly spaced; 0: as fast as possible)\n"
    "           --keys N (0: null keys)\n"
    "  consume: --records N (all there is) --fetch-bytes B (1MiB per partition)\n"
    "  Prints MB/s and records/s; produce also prints send-to-ack latency percentiles.\n";

int64_t NowNs() { return Clock::System()->MonotonicNanos(); }

std::string Throughput(int64_t records, uint64_t bytes, int64_t elapsed_ns) {
  double seconds = std::max(1e-9, static_cast<double>(elapsed_ns) / 1e9);
  return absl::StrFormat("%d records, %.1f MB in %.2f s: %.1f MB/s, %.0f records/s", records,
                         static_cast<double>(bytes) / 1e6, seconds,
                         static_cast<double>(bytes) / 1e6 / seconds,
                         static_cast<double>(records) / seconds);
}

// Creates the topic unless it exists.
absl::Status EnsureTopic(const std::vector<client::HostPort>& bootstrap, const std::string& topic,
                         int32_t partitions, int16_t replication_factor) {
  ASSIGN_OR_RETURN(auto admin, client::Admin::Create({.bootstrap = bootstrap}));
  absl::Status s = admin->CreateTopic(
      {.name = topic, .partitions = partitions, .replication_factor = replication_factor});
  return absl::IsAlreadyExists(s) ? absl::OkStatus() : s;
}

absl::StatusOr<client::ProducerOptions> ProducerFlags(const cli::Args& args) {
  client::ProducerOptions o;
  ASSIGN_OR_RETURN(o.bootstrap, BootstrapFlag(args));
  ASSIGN_OR_RETURN(o.acks, AcksFlag(args));
  if (!args.Has("acks")) o.acks = 1;  // the benchmark's default, as kafka-producer-perf-test's
  ASSIGN_OR_RETURN(o.compression, CompressionFlag(args));
  absl::Status err;
  o.linger_ms = args.GetInt("linger-ms", 5, &err);
  o.batch_bytes = static_cast<size_t>(args.GetInt("batch-bytes", 64 << 10, &err));
  o.max_in_flight = static_cast<size_t>(args.GetInt("max-in-flight", 5, &err));
  o.idempotence = args.Has("idempotent");
  o.client_id = "strata-bench";
  o.buffer_bytes = std::max<size_t>(o.buffer_bytes, 4 * o.batch_bytes);
  o.max_request_bytes = std::max(o.max_request_bytes, o.batch_bytes);
  RETURN_IF_ERROR(err);
  return o;
}

void PrintLatency(std::vector<int64_t> latencies_us) {
  if (latencies_us.empty()) return;
  std::sort(latencies_us.begin(), latencies_us.end());
  auto at = [&](double q) {
    size_t i = std::min(latencies_us.size() - 1, static_cast<size_t>(q * latencies_us.size()));
    return static_cast<double>(latencies_us[i]) / 1000.0;
  };
  std::cout << absl::StrFormat("latency ms: p50 %.2f  p99 %.2f  p999 %.2f  max %.2f\n", at(0.5),
                               at(0.99), at(0.999), at(1.0));
}

// Values are slices of a random pool: cheap to make, not trivially compressible.
std::string ValuePool(std::mt19937_64& rng, size_t record_bytes) {
  std::string pool(std::max<size_t>(1 << 16, 2 * record_bytes), ' ');
  for (char& c : pool) c = static_cast<char>('a' + rng() % 26);
  return pool;
}

// At a fixed rate, record i goes out i/rate seconds after the start.
void WaitForTurn(int64_t start_ns, int64_t i, int64_t rate) {
  int64_t due = start_ns + i * 1'000'000'000 / rate;
  if (int64_t wait = due - NowNs(); wait > 0) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
  }
}

int BenchProduce(const cli::Args& args, const std::string& topic) {
  absl::StatusOr<client::ProducerOptions> options = ProducerFlags(args);
  absl::Status err = options.status();
  int64_t records = args.GetInt("records", 100'000, &err);
  int64_t record_bytes = args.GetInt("record-bytes", 100, &err);
  int64_t partitions = args.GetInt("partitions", 1, &err);
  int64_t keys = args.GetInt("keys", 0, &err);
  int64_t replication_factor = args.GetInt("replication-factor", -1, &err);
  int64_t rate = args.GetInt("rate", 0, &err);
  if (err.ok() && (records < 0 || record_bytes < 0 || partitions < 1 || keys < 0 || rate < 0)) {
    err = absl::InvalidArgumentError("counts and sizes must not be negative");
  }
  if (!err.ok()) return Usage(err, kUsage);
  if (absl::Status s = EnsureTopic(options->bootstrap, topic, static_cast<int32_t>(partitions),
                                   static_cast<int16_t>(replication_factor));
      !s.ok()) {
    return Fail("strata bench produce", s);
  }
  auto producer = client::Producer::Create(*options);
  if (!producer.ok()) return Fail("strata bench produce", producer.status());
  std::mt19937_64 rng(1);
  const std::string pool = ValuePool(rng, static_cast<size_t>(record_bytes));
  std::vector<int64_t> latencies_us(static_cast<size_t>(records), 0);
  std::atomic<int64_t> failed{0};
  int64_t start = NowNs();
  for (int64_t i = 0; i < records; ++i) {
    size_t at = rng() % (pool.size() - static_cast<size_t>(record_bytes) + 1);
    client::ProducerRecord r{.topic = topic,
                             .value = pool.substr(at, static_cast<size_t>(record_bytes))};
    if (keys > 0) r.key = absl::StrCat("key-", i % keys);
    if (rate > 0) WaitForTurn(start, i, rate);
    int64_t sent = NowNs();
    (*producer)
        ->Send(std::move(r),
               [&, i, sent](const client::DeliveryReport& report) {
                 latencies_us[static_cast<size_t>(i)] = (NowNs() - sent) / 1000;
                 if (!report.error.ok()) ++failed;
               })
        .IgnoreError();  // counted by the callback
  }
  absl::Status flushed = (*producer)->Flush();
  int64_t elapsed = NowNs() - start;
  if (!flushed.ok()) return Fail("strata bench produce", flushed);
  std::cout << "produce: "
            << Throughput(records, static_cast<uint64_t>(records * record_bytes), elapsed)
            << absl::StrFormat(" (%s, acks=%d, batch %s, linger %d ms, %d retries)\n",
                               CompressionName(options->compression), options->acks,
                               cli::HumanBytes(options->batch_bytes), options->linger_ms,
                               (*producer)->retries());
  PrintLatency(std::move(latencies_us));
  if (failed.load() > 0) {
    return Fail("strata bench produce",
                absl::UnavailableError(absl::StrCat(failed.load(), " records failed")));
  }
  return 0;
}

int BenchConsume(const cli::Args& args, const std::string& topic) {
  auto bootstrap = BootstrapFlag(args);
  absl::Status err = bootstrap.status();
  int64_t records = args.GetInt("records", -1, &err);
  int64_t fetch_bytes = args.GetInt("fetch-bytes", 1 << 20, &err);
  if (!err.ok()) return Usage(err, kUsage);
  auto consumer = client::Consumer::Create(
      {.bootstrap = *bootstrap,
       .client_id = "strata-bench",
       .reset = client::OffsetReset::kEarliest,
       .max_partition_bytes = static_cast<int32_t>(std::min<int64_t>(fetch_bytes, INT32_MAX)),
       .max_poll_records = 100'000});
  if (!consumer.ok()) return Fail("strata bench consume", consumer.status());
  auto count = (*consumer)->cluster().PartitionCount(topic);
  if (!count.ok()) return Fail("strata bench consume", count.status());
  std::vector<client::TopicPartition> tps;
  for (int32_t p = 0; p < *count; ++p) tps.push_back({topic, p});
  (*consumer)->Assign(tps);
  int64_t got = 0;
  uint64_t bytes = 0;
  int64_t start = NowNs();
  int64_t last_data = start;
  // Until --records, or one second without data (everything there was has been read).
  while ((records < 0 || got < records) && NowNs() - last_data < 1'000'000'000) {
    auto polled = (*consumer)->Poll(200);
    if (!polled.ok()) return Fail("strata bench consume", polled.status());
    if (!polled->empty()) last_data = NowNs();
    for (const client::ConsumerRecord& r : *polled) {
      bytes += r.value ? r.value->size() : 0;
      bytes += r.key ? r.key->size() : 0;
    }
    got += static_cast<int64_t>(polled->size());
  }
  std::cout << "consume: " << Throughput(got, bytes, last_data - start) << "\n";
  if (records >= 0 && got < records) {
    return Fail("strata bench consume", absl::DeadlineExceededError(absl::StrCat(
                                            "only ", got, " of ", records, " records came")));
  }
  return 0;
}

}  // namespace

int Bench(const Argv& argv) {
  cli::Args args;
  if (auto exit = ParseOrUsage(argv, {"idempotent"},
                               {"bootstrap", "topic", "records", "record-bytes", "batch-bytes",
                                "linger-ms", "acks", "compression", "max-in-flight", "partitions",
                                "keys", "fetch-bytes", "replication-factor", "rate"},
                               {}, kUsage, &args)) {
    return *exit;
  }
  if (args.positional().size() != 1) {
    return Usage(absl::InvalidArgumentError("expected produce or consume"), kUsage);
  }
  std::string topic = args.Get("topic", "strata-bench");
  if (args.positional()[0] == "produce") return BenchProduce(args, topic);
  if (args.positional()[0] == "consume") return BenchConsume(args, topic);
  return Usage(absl::InvalidArgumentError("expected produce or consume"), kUsage);
}

}  // namespace strata::tools
