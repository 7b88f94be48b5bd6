// strata log generate: writes a partition (or several) of generated records through the real
// storage engine, for demos, benchmarks and tests of the tools.
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/status.h"
#include "log/batch_builder.h"
#include "log/log_manager.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata log generate <data-dir> [--topic demo] [--partitions 1] [--records 100000]\n"
    "         [--record-bytes 100] [--batch-records 100] [--keys 1000]\n"
    "         [--compression none|gzip|snappy|lz4|zstd] [--segment-bytes 1GiB]\n"
    "  Appends generated records (key-<n % keys> -> printable value) to <data-dir>/<topic>-<p>,\n"
    "  creating the data directory and partitions as needed, then shuts down cleanly.\n";

struct GenerateOptions {
  std::string topic;
  int64_t partitions, records, record_bytes, batch_records, keys, segment_bytes;
  Compression codec = Compression::kNone;
};

absl::Status ParseOptions(const cli::Args& args, GenerateOptions* o) {
  absl::Status err;
  o->topic = args.Get("topic", "demo");
  o->partitions = args.GetInt("partitions", 1, &err);
  o->records = args.GetInt("records", 100000, &err);
  o->record_bytes = args.GetInt("record-bytes", 100, &err);
  o->batch_records = args.GetInt("batch-records", 100, &err);
  o->keys = args.GetInt("keys", 1000, &err);
  o->segment_bytes = args.GetInt("segment-bytes", 1 << 30, &err);
  RETURN_IF_ERROR(err);
  if (!ParseCompression(args.Get("compression", "none"), &o->codec)) {
    return absl::InvalidArgumentError("--compression must be none, gzip, snappy, lz4 or zstd");
  }
  if (o->partitions < 1 || o->records < 0 || o->record_bytes < 0 || o->batch_records < 1 ||
      o->keys < 1 || o->segment_bytes < 1024) {
    return absl::InvalidArgumentError("sizes and counts must be positive");
  }
  return absl::OkStatus();
}

absl::Status Generate(const std::string& data_dir, const GenerateOptions& o, uint64_t* bytes) {
  LogConfig config;
  config.segment_bytes = static_cast<uint64_t>(o.segment_bytes);
  ASSIGN_OR_RETURN(auto manager,
                   LogManager::Open(FileSystem::Default(), {.data_dir = data_dir}, Clock::System(),
                                    [&](const TopicPartition&) { return config; }));
  std::mt19937_64 rng(42);
  std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string pool(std::max<size_t>(1 << 16, 2 * static_cast<size_t>(o.record_bytes)), ' ');
  for (char& c : pool) c = alphabet[rng() % alphabet.size()];
  for (int64_t p = 0; p < o.partitions; ++p) {
    ASSIGN_OR_RETURN(auto log, manager->GetOrCreate({o.topic, static_cast<int32_t>(p)}, config));
    int64_t per_partition = o.records / o.partitions + (p < o.records % o.partitions ? 1 : 0);
    for (int64_t done = 0; done < per_partition;) {
      RecordBatchBuilder b({.compression = o.codec});
      int64_t now = Clock::System()->NowMs();
      for (int64_t i = 0; i < o.batch_records && done < per_partition; ++i, ++done) {
        size_t at = rng() % (pool.size() - static_cast<size_t>(o.record_bytes) + 1);
        b.Add(absl::StrCat("key-", (done * o.partitions + p) % o.keys),
              absl::string_view(pool).substr(at, static_cast<size_t>(o.record_bytes)), now);
      }
      ASSIGN_OR_RETURN(std::string batch, b.Build());
      *bytes += batch.size();
      RETURN_IF_ERROR(log->Append({reinterpret_cast<uint8_t*>(batch.data()), batch.size()},
                                  {.leader_epoch = LeaderEpoch(0)})
                          .status());
    }
  }
  return manager->Shutdown();
}

}  // namespace

int LogGenerate(const Argv& argv) {
  cli::Args args;
  absl::Status s = args.Parse(argv, {"help"},
                              {"topic", "partitions", "records", "record-bytes", "batch-records",
                               "keys", "compression", "segment-bytes"});
  GenerateOptions o;
  if (s.ok()) s = ParseOptions(args, &o);
  if (!s.ok() || args.Has("help") || args.positional().size() != 1) {
    std::cerr << (s.ok() ? "" : std::string(s.message()) + "\n") << kUsage;
    return 2;
  }
  uint64_t bytes = 0;
  int64_t start = Clock::System()->MonotonicNanos();
  if (absl::Status g = Generate(args.positional()[0], o, &bytes); !g.ok()) {
    std::cerr << "strata log generate: " << g.message() << "\n";
    return 1;
  }
  double seconds = static_cast<double>(Clock::System()->MonotonicNanos() - start) / 1e9;
  std::cout << absl::StrFormat("Wrote %d records (%s of batches, %s) to %s/%s-* in %.2f s (%s/s)\n",
                               o.records, cli::HumanBytes(bytes), CompressionName(o.codec),
                               args.positional()[0], o.topic, seconds,
                               cli::HumanBytes(static_cast<uint64_t>(bytes / std::max(seconds, 1e-9))));
  return 0;
}

}  // namespace strata::tools
