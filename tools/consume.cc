// strata consume: prints records of a topic (like kafka-console-consumer / kcat -C) through the
// client Consumer, from a chosen start position, until --count records or --idle-exit-ms
// without data.
#include <cstdio>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/consumer.h"
#include "common/clock.h"
#include "tools/client_flags.h"
#include "tools/commands.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata consume --bootstrap HOST:PORT --topic T [flags]\n"
    "  --partition P            only this partition (default: all)\n"
    "  --from-beginning | --from-end | --offset N | --timestamp MS\n"
    "                           where to start (default: --from-end)\n"
    "  --count N                exit after N records (exit 1 if they do not come)\n"
    "  --idle-exit-ms MS        exit after MS without data (default 2000; 0: never)\n"
    "  --format value|kv|json|full   (default value)\n"
    "  --key-separator SEP      between key and value with --format kv (default tab)\n";

enum class Format { kValue, kKv, kJson, kFull };

struct ConsumeOptions {
  std::vector<client::HostPort> bootstrap;
  std::string topic;
  int32_t partition = -1;
  enum class Start { kBeginning, kEnd, kOffset, kTimestamp } start = Start::kEnd;
  int64_t start_value = 0;
  int64_t count = -1;
  int64_t idle_exit_ms = 2000;
  Format format = Format::kValue;
  std::string separator = "\t";
};

absl::Status ParseStart(const cli::Args& args, ConsumeOptions* o) {
  int given = args.Has("from-beginning") + args.Has("from-end") + args.Has("offset") +
              args.Has("timestamp");
  if (given > 1) {
    return absl::InvalidArgumentError(
        "give only one of --from-beginning, --from-end, --offset, --timestamp");
  }
  absl::Status err;
  if (args.Has("from-beginning")) o->start = ConsumeOptions::Start::kBeginning;
  if (args.Has("offset")) {
    o->start = ConsumeOptions::Start::kOffset;
    o->start_value = args.GetInt("offset", 0, &err);
  }
  if (args.Has("timestamp")) {
    o->start = ConsumeOptions::Start::kTimestamp;
    o->start_value = args.GetInt("timestamp", 0, &err);
  }
  if (err.ok() && o->start_value < 0) err = absl::InvalidArgumentError("negative start");
  return err;
}

absl::Status ParseOptions(const cli::Args& args, ConsumeOptions* o) {
  ASSIGN_OR_RETURN(o->bootstrap, BootstrapFlag(args));
  o->topic = args.Get("topic");
  if (o->topic.empty()) return absl::InvalidArgumentError("--topic is required");
  RETURN_IF_ERROR(ParseStart(args, o));
  absl::Status err;
  o->partition = static_cast<int32_t>(args.GetInt("partition", -1, &err));
  o->count = args.GetInt("count", -1, &err);
  o->idle_exit_ms = args.GetInt("idle-exit-ms", 2000, &err);
  RETURN_IF_ERROR(err);
  const std::map<std::string, Format> formats = {{"value", Format::kValue},
                                                 {"kv", Format::kKv},
                                                 {"json", Format::kJson},
                                                 {"full", Format::kFull}};
  auto f = formats.find(args.Get("format", "value"));
  if (f == formats.end())
    return absl::InvalidArgumentError("--format must be value, kv, json or full");
  o->format = f->second;
  o->separator = args.Get("key-separator", "\t");
  return absl::OkStatus();
}

// A JSON string literal. Bytes that are not UTF-8 are escaped as \u00XX (as Latin-1).
std::string Json(absl::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\u%04x", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
      bool valid = len > 0 && i + len <= s.size();
      for (size_t k = 1; valid && k < len; ++k) valid = (s[i + k] & 0xc0) == 0x80;
      if (valid) {
        out.append(s.data() + i, len);
        i += len - 1;
      } else {
        out += absl::StrFormat("\\u%04x", c);
      }
    }
  }
  return out + "\"";
}

std::string JsonOrNull(const std::optional<std::string>& s) { return s ? Json(*s) : "null"; }
std::string TextOrNull(const std::optional<std::string>& s) { return s ? *s : "null"; }

std::string Format(const client::ConsumerRecord& r, const ConsumeOptions& o) {
  switch (o.format) {
    case Format::kValue:
      return r.value.value_or("");
    case Format::kKv:
      return absl::StrCat(TextOrNull(r.key), o.separator, TextOrNull(r.value));
    case Format::kJson: {
      std::string headers;
      for (const auto& h : r.headers) {
        absl::StrAppend(&headers, headers.empty() ? "" : ",", Json(h.key), ":",
                        JsonOrNull(h.value));
      }
      return absl::StrCat("{\"topic\":", Json(r.topic), ",\"partition\":", r.partition,
                          ",\"offset\":", r.offset, ",\"timestamp\":", r.timestamp,
                          ",\"key\":", JsonOrNull(r.key), ",\"value\":", JsonOrNull(r.value),
                          ",\"headers\":{", headers, "}}");
    }
    case Format::kFull: {
      std::string headers;
      for (const auto& h : r.headers) {
        absl::StrAppend(&headers, headers.empty() ? "" : ",", h.key, "=", TextOrNull(h.value));
      }
      return absl::StrCat(
          r.timestamp_type == TimestampType::kLogAppendTime ? "LogAppendTime:" : "CreateTime:",
          r.timestamp, "\tPartition:", r.partition, "\tOffset:", r.offset,
          "\tHeaders:", headers.empty() ? "none" : headers, "\tKey:", TextOrNull(r.key),
          "\tValue:", TextOrNull(r.value));
    }
  }
  return "";
}

absl::Status Position(client::Consumer& consumer, const ConsumeOptions& o) {
  std::vector<client::TopicPartition> tps;
  if (o.partition >= 0) {
    tps.push_back({o.topic, o.partition});
  } else {
    ASSIGN_OR_RETURN(int32_t count, consumer.cluster().PartitionCount(o.topic));
    for (int32_t p = 0; p < count; ++p) tps.push_back({o.topic, p});
  }
  consumer.Assign(tps);
  switch (o.start) {
    case ConsumeOptions::Start::kBeginning:
      return consumer.SeekToBeginning();
    case ConsumeOptions::Start::kEnd:
      return consumer.SeekToEnd();
    case ConsumeOptions::Start::kOffset:
      for (const auto& tp : tps) RETURN_IF_ERROR(consumer.Seek(tp, o.start_value));
      return absl::OkStatus();
    case ConsumeOptions::Start::kTimestamp:
      for (const auto& tp : tps) RETURN_IF_ERROR(consumer.SeekToTimestamp(tp, o.start_value));
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

// Polls and prints until the count is reached (true) or the idle timeout passes (false).
absl::StatusOr<bool> Run(client::Consumer& consumer, const ConsumeOptions& o, int64_t* printed) {
  int64_t last_data = Clock::System()->MonotonicMs();
  while (o.count < 0 || *printed < o.count) {
    int64_t idle = Clock::System()->MonotonicMs() - last_data;
    if (o.idle_exit_ms > 0 && idle >= o.idle_exit_ms) return false;
    int64_t wait = o.idle_exit_ms > 0 ? std::min<int64_t>(200, o.idle_exit_ms - idle) : 200;
    ASSIGN_OR_RETURN(std::vector<client::ConsumerRecord> records, consumer.Poll(wait));
    if (!records.empty()) last_data = Clock::System()->MonotonicMs();
    for (const client::ConsumerRecord& r : records) {
      if (o.count >= 0 && *printed >= o.count) break;
      std::string line = Format(r, o);
      line += '\n';
      fwrite(line.data(), 1, line.size(), stdout);
      ++*printed;
    }
  }
  return true;
}

}  // namespace

int Consume(const Argv& argv) {
  cli::Args args;
  if (auto exit = ParseOrUsage(argv, {"from-beginning", "from-end"},
                               {"bootstrap", "topic", "partition", "offset", "timestamp", "count",
                                "idle-exit-ms", "format", "key-separator"},
                               {}, kUsage, &args)) {
    return *exit;
  }
  ConsumeOptions o;
  if (absl::Status s = ParseOptions(args, &o); !s.ok()) return Usage(s, kUsage);
  if (!args.positional().empty())
    return Usage(absl::InvalidArgumentError("unexpected argument"), kUsage);
  auto consumer = client::Consumer::Create({.bootstrap = o.bootstrap,
                                            .client_id = "strata-consume",
                                            .reset = client::OffsetReset::kEarliest});
  if (!consumer.ok()) return Fail("strata consume", consumer.status());
  if (absl::Status s = Position(**consumer, o); !s.ok()) return Fail("strata consume", s);
  int64_t printed = 0;
  absl::StatusOr<bool> complete = Run(**consumer, o, &printed);
  fflush(stdout);
  if (!complete.ok()) return Fail("strata consume", complete.status());
  if (!*complete && o.count >= 0) {
    return Fail("strata consume", absl::DeadlineExceededError(absl::StrCat(
                                      "got ", printed, " of ", o.count, " records before ",
                                      o.idle_exit_ms, " ms without data")));
  }
  return 0;
}

}  // namespace strata::tools
