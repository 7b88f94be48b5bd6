// strata produce: sends records to a topic, one per line of stdin (like
// kafka-console-producer) or generated ones (--generate), through the client Producer.
#include <atomic>
#include <iostream>
#include <mutex>
#include <random>

#include "absl/strings/str_cat.h"
#include "client/producer.h"
#include "tools/client_flags.h"
#include "tools/commands.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata produce --bootstrap HOST:PORT --topic T [flags]\n"
    "  Sends each line of stdin as a record, or --generate N records.\n"
    "  --partition P            send every record to partition P (default: the partitioner)\n"
    "  --key-separator SEP      split each line at the first SEP into key and value\n"
    "  --header name=value      add a header to every record (repeatable)\n"
    "  --generate N             send N generated records instead of reading stdin\n"
    "  --record-bytes B         generated value size (default 100)\n"
    "  --acks 0|1|-1|all        (default -1)       --compression none|gzip|snappy|lz4|zstd\n"
    "  --linger-ms MS (5)       --batch-bytes B (16KiB)       --idempotent\n"
    "  --quiet                  no summary on stderr\n";

struct ProduceOptions {
  client::ProducerOptions producer;
  std::string topic;
  int32_t partition = -1;
  std::optional<std::string> key_separator;
  std::vector<HeaderField> headers;
  int64_t generate = -1;
  int64_t record_bytes = 100;
};

absl::Status ParseOptions(const cli::Args& args, ProduceOptions* o) {
  ASSIGN_OR_RETURN(o->producer.bootstrap, BootstrapFlag(args));
  ASSIGN_OR_RETURN(o->producer.acks, AcksFlag(args));
  ASSIGN_OR_RETURN(o->producer.compression, CompressionFlag(args));
  o->topic = args.Get("topic");
  if (o->topic.empty()) return absl::InvalidArgumentError("--topic is required");
  absl::Status err;
  o->producer.linger_ms = args.GetInt("linger-ms", 5, &err);
  o->producer.batch_bytes = static_cast<size_t>(args.GetInt("batch-bytes", 16 << 10, &err));
  o->producer.buffer_bytes = std::max<size_t>(o->producer.buffer_bytes, o->producer.batch_bytes);
  o->producer.idempotence = args.Has("idempotent");
  o->producer.client_id = "strata-produce";
  o->partition = static_cast<int32_t>(args.GetInt("partition", -1, &err));
  o->generate = args.GetInt("generate", -1, &err);
  o->record_bytes = args.GetInt("record-bytes", 100, &err);
  RETURN_IF_ERROR(err);
  if (args.Has("key-separator")) o->key_separator = args.Get("key-separator");
  if (o->key_separator.has_value() && o->key_separator->empty()) {
    return absl::InvalidArgumentError("--key-separator must not be empty");
  }
  for (const std::string& kv : args.GetAll("header")) {
    ASSIGN_OR_RETURN(auto pair, SplitKeyValue(kv, "--header"));
    o->headers.push_back({pair.first, pair.second});
  }
  if (o->producer.batch_bytes == 0 || o->record_bytes < 0) {
    return absl::InvalidArgumentError(
        "--batch-bytes must be positive, --record-bytes not negative");
  }
  return absl::OkStatus();
}

// Counts outcomes; keeps the first error to report it.
struct Outcome {
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> failed{0};
  std::mutex mu;
  absl::Status first_error;

  void Record(const client::DeliveryReport& r) {
    if (r.error.ok()) {
      ++delivered;
      return;
    }
    ++failed;
    std::lock_guard lock(mu);
    if (first_error.ok()) first_error = r.error;
  }
};

client::ProducerRecord MakeRecord(const ProduceOptions& o, std::string line) {
  client::ProducerRecord r{.topic = o.topic, .headers = o.headers, .partition = o.partition};
  size_t at = o.key_separator.has_value() ? line.find(*o.key_separator) : std::string::npos;
  if (at != std::string::npos) {
    r.key = line.substr(0, at);
    r.value = line.substr(at + o.key_separator->size());
  } else {
    r.value = std::move(line);
  }
  return r;
}

absl::Status SendAll(client::Producer& producer, const ProduceOptions& o, Outcome& outcome,
                     int64_t* sent) {
  auto report = [&outcome](const client::DeliveryReport& r) { outcome.Record(r); };
  if (o.generate >= 0) {
    std::mt19937_64 rng(7);
    for (int64_t i = 0; i < o.generate; ++i) {
      std::string value(static_cast<size_t>(o.record_bytes), ' ');
      for (char& c : value) c = static_cast<char>('a' + rng() % 26);
      producer.Send(MakeRecord(o, std::move(value)), report).IgnoreError();  // counted in report
      ++*sent;
    }
  } else {
    std::string line;
    while (std::getline(std::cin, line)) {
      producer.Send(MakeRecord(o, std::move(line)), report).IgnoreError();
      ++*sent;
    }
  }
  return producer.Flush();
}

}  // namespace

int Produce(const Argv& argv) {
  cli::Args args;
  if (auto exit = ParseOrUsage(argv, {"idempotent", "quiet"},
                               {"bootstrap", "topic", "partition", "key-separator", "generate",
                                "record-bytes", "acks", "compression", "linger-ms", "batch-bytes"},
                               {"header"}, kUsage, &args)) {
    return *exit;
  }
  ProduceOptions o;
  if (absl::Status s = ParseOptions(args, &o); !s.ok()) return Usage(s, kUsage);
  if (!args.positional().empty()) {
    return Usage(absl::InvalidArgumentError("unexpected argument"), kUsage);
  }
  auto producer = client::Producer::Create(o.producer);
  if (!producer.ok()) return Fail("strata produce", producer.status());
  Outcome outcome;
  int64_t sent = 0;
  absl::Status s = SendAll(**producer, o, outcome, &sent);
  if (s.ok()) s = (*producer)->Close();
  if (!args.Has("quiet")) {
    std::cerr << "Produced " << outcome.delivered.load() << " of " << sent << " records to "
              << o.topic << "\n";
  }
  if (!s.ok()) return Fail("strata produce", s);
  if (outcome.failed.load() > 0) {
    return Fail("strata produce",
                absl::Status(outcome.first_error.code(),
                             absl::StrCat(outcome.failed.load(), " records failed; first: ",
                                          outcome.first_error.message())));
  }
  return 0;
}

}  // namespace strata::tools
