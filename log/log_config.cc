#include "log/log_config.h"

#include <functional>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace strata {
namespace {

absl::Status Bad(absl::string_view name, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value '", value, "' for ", name, ": ", why));
}

template <typename T>
absl::Status ParseInt(absl::string_view name, absl::string_view value, T min, T max, T* out) {
  int64_t v;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &v)) {
    return Bad(name, value, "not an integer");
  }
  if (v < static_cast<int64_t>(min) || v > static_cast<int64_t>(max)) {
    return Bad(name, value, absl::StrCat("must be in [", min, ", ", max, "]"));
  }
  *out = static_cast<T>(v);
  return absl::OkStatus();
}

absl::Status ParseBool(absl::string_view name, absl::string_view value, bool* out) {
  std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(value));
  if (v == "true") *out = true;
  else if (v == "false") *out = false;
  else return Bad(name, value, "must be true or false");
  return absl::OkStatus();
}

struct Property {
  std::function<absl::Status(LogConfig&, absl::string_view)> set;
  std::function<std::string(const LogConfig&)> get;
};

#define STRATA_INT_PROPERTY(field, min, max)                                              \
  Property {                                                                              \
    [](LogConfig& c, absl::string_view v) {                                               \
      return ParseInt<decltype(c.field)>(kName, v, min, max, &c.field);                   \
    },                                                                                    \
        [](const LogConfig& c) { return absl::StrCat(c.field); }                          \
  }

const std::map<std::string, Property, std::less<>>& Properties() {
  static const auto* props = [] {
    auto* m = new std::map<std::string, Property, std::less<>>();
    auto add = [m](const char* name, Property p) { m->emplace(name, std::move(p)); };
    {
      static constexpr char kName[] = "segment.bytes";
      add(kName, STRATA_INT_PROPERTY(segment_bytes, 14, INT32_MAX));
    }
    {
      static constexpr char kName[] = "segment.ms";
      add(kName, STRATA_INT_PROPERTY(segment_ms, 1, INT64_MAX));
    }
    {
      static constexpr char kName[] = "segment.index.bytes";
      add(kName, STRATA_INT_PROPERTY(segment_index_bytes, 4, INT32_MAX));
    }
    {
      static constexpr char kName[] = "index.interval.bytes";
      add(kName, STRATA_INT_PROPERTY(index_interval_bytes, 0, INT32_MAX));
    }
    {
      static constexpr char kName[] = "retention.bytes";
      add(kName, STRATA_INT_PROPERTY(retention_bytes, -1, INT64_MAX));
    }
    {
      static constexpr char kName[] = "retention.ms";
      add(kName, STRATA_INT_PROPERTY(retention_ms, -1, INT64_MAX));
    }
    {
      static constexpr char kName[] = "flush.messages";
      add(kName, STRATA_INT_PROPERTY(flush_messages, 1, INT64_MAX));
    }
    {
      static constexpr char kName[] = "flush.ms";
      add(kName, STRATA_INT_PROPERTY(flush_ms, 0, INT64_MAX));
    }
    {
      static constexpr char kName[] = "max.message.bytes";
      add(kName, STRATA_INT_PROPERTY(max_message_bytes, 0, INT32_MAX));
    }
    {
      static constexpr char kName[] = "delete.retention.ms";
      add(kName, STRATA_INT_PROPERTY(delete_retention_ms, 0, INT64_MAX));
    }
    {
      static constexpr char kName[] = "min.compaction.lag.ms";
      add(kName, STRATA_INT_PROPERTY(min_compaction_lag_ms, 0, INT64_MAX));
    }
    {
      static constexpr char kName[] = "max.compaction.lag.ms";
      add(kName, STRATA_INT_PROPERTY(max_compaction_lag_ms, 1, INT64_MAX));
    }
    {
      static constexpr char kName[] = "min.insync.replicas";
      add(kName, STRATA_INT_PROPERTY(min_insync_replicas, 1, INT32_MAX));
    }
    {
      static constexpr char kName[] = "file.delete.delay.ms";
      add(kName, STRATA_INT_PROPERTY(file_delete_delay_ms, 0, INT64_MAX));
    }
    {
      static constexpr char kName[] = "producer.id.expiration.ms";
      add(kName, STRATA_INT_PROPERTY(producer_id_expiration_ms, 1, INT64_MAX));
    }
    {
      static constexpr char kName[] = "message.timestamp.difference.max.ms";
      add(kName, STRATA_INT_PROPERTY(message_timestamp_difference_max_ms, 0, INT64_MAX));
    }
    add("message.timestamp.type",
        {[](LogConfig& c, absl::string_view v) -> absl::Status {
           if (v == "CreateTime") c.timestamp_type = TimestampType::kCreateTime;
           else if (v == "LogAppendTime") c.timestamp_type = TimestampType::kLogAppendTime;
           else return Bad("message.timestamp.type", v, "must be CreateTime or LogAppendTime");
           return absl::OkStatus();
         },
         [](const LogConfig& c) -> std::string {
           return c.timestamp_type == TimestampType::kCreateTime ? "CreateTime"
                                                                 : "LogAppendTime";
         }});
    add("cleanup.policy",
        {[](LogConfig& c, absl::string_view v) -> absl::Status {
           bool compact = false, del = false;
           for (absl::string_view p : absl::StrSplit(v, ',')) {
             p = absl::StripAsciiWhitespace(p);
             if (p == "compact") compact = true;
             else if (p == "delete") del = true;
             else return Bad("cleanup.policy", v, "must be a list of compact and delete");
           }
           if (!compact && !del) return Bad("cleanup.policy", v, "empty");
           c.cleanup_compact = compact;
           c.cleanup_delete = del;
           return absl::OkStatus();
         },
         [](const LogConfig& c) -> std::string {
           std::vector<std::string> p;
           if (c.cleanup_compact) p.push_back("compact");
           if (c.cleanup_delete) p.push_back("delete");
           return absl::StrJoin(p, ",");
         }});
    add("min.cleanable.dirty.ratio",
        {[](LogConfig& c, absl::string_view v) -> absl::Status {
           double d;
           if (!absl::SimpleAtod(v, &d) || d < 0 || d > 1) {
             return Bad("min.cleanable.dirty.ratio", v, "must be a number in [0, 1]");
           }
           c.min_cleanable_dirty_ratio = d;
           return absl::OkStatus();
         },
         [](const LogConfig& c) { return absl::StrCat(c.min_cleanable_dirty_ratio); }});
    add("unclean.leader.election.enable",
        {[](LogConfig& c, absl::string_view v) {
           return ParseBool("unclean.leader.election.enable", v, &c.unclean_leader_election);
         },
         [](const LogConfig& c) -> std::string {
           return c.unclean_leader_election ? "true" : "false";
         }});
    add("compression.type",
        {[](LogConfig& c, absl::string_view v) -> absl::Status {
           Compression codec;
           if (v != "producer" && v != "uncompressed" && !ParseCompression(v, &codec)) {
             return Bad("compression.type", v,
                        "must be producer, uncompressed, gzip, snappy, lz4 or zstd");
           }
           c.compression_type = std::string(v);
           return absl::OkStatus();
         },
         [](const LogConfig& c) { return c.compression_type; }});
    return m;
  }();
  return *props;
}

#undef STRATA_INT_PROPERTY

}  // namespace

absl::Status LogConfig::Set(absl::string_view name, absl::string_view value) {
  auto it = Properties().find(name);
  if (it == Properties().end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown topic config '", name, "'"));
  }
  return it->second.set(*this, value);
}

absl::StatusOr<std::string> LogConfig::Get(absl::string_view name) const {
  auto it = Properties().find(name);
  if (it == Properties().end()) {
    return absl::NotFoundError(absl::StrCat("unknown topic config '", name, "'"));
  }
  return it->second.get(*this);
}

const std::vector<std::string>& LogConfig::Names() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>();
    for (const auto& [name, unused] : Properties()) v->push_back(name);
    return v;
  }();
  return *names;
}

}  // namespace strata
