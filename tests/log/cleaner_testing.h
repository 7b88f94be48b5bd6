// Helpers for the cleaner tests: reading a log's records with tombstones and batch fields, and
// a model of what compaction may and must leave.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "log/log.h"
#include "log/record_batch.h"

namespace strata::testing {

struct KeyedRecord {
  int64_t offset = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt: tombstone
  int64_t timestamp = 0;
  int64_t delete_horizon = -1;  // the batch's, or -1
};

struct BatchInfo {
  int64_t base_offset, last_offset;
  int32_t record_count;
  Compression compression;
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t base_sequence;
};

inline absl::StatusOr<std::vector<BatchInfo>> ReadBatches(const Log& log) {
  std::vector<BatchInfo> out;
  absl::Status s = ForEachBatch(
      log, log.log_start_offset(), log.high_watermark(), [&](const RecordBatchView& b) {
        out.push_back({b.base_offset().value(), b.last_offset().value(), b.record_count(),
                       b.compression(), b.producer_id(), b.producer_epoch(), b.base_sequence()});
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

inline absl::StatusOr<std::vector<KeyedRecord>> ReadKeyed(const Log& log) {
  std::vector<KeyedRecord> out;
  absl::Status s = ForEachBatch(
      log, log.log_start_offset(), log.high_watermark(), [&](const RecordBatchView& b) {
        auto reader = b.Records();
        if (!reader.ok()) return reader.status();
        Record r;
        while (true) {
          auto more = reader->Next(&r);
          if (!more.ok()) return more.status();
          if (!*more) break;
          KeyedRecord k{r.offset, r.key ? std::string(AsStringView(*r.key)) : "", std::nullopt,
                        r.timestamp, b.has_delete_horizon() ? b.base_timestamp() : -1};
          if (r.value) k.value = std::string(AsStringView(*r.value));
          out.push_back(std::move(k));
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

// Every write, and which tombstones compaction has covered (and when).
class ModelLog {
 public:
  void Write(const std::string& key, std::optional<std::string> value, int64_t offset, int64_t ts) {
    writes_[offset] = {key, std::move(value), ts};
    latest_[key] = offset;
  }
  void Cleaned(Offset next_dirty, int64_t now_ms, int64_t retention_ms) {
    last_clean_ms_ = now_ms;
    retention_ms_ = retention_ms;
    for (const auto& [offset, w] : writes_) {
      if (offset >= next_dirty.value()) break;
      if (!w.value.has_value()) covered_.emplace(offset, now_ms);
    }
  }
  // The log is a valid compaction of the writes.
  void Check(const Log& log) const {
    auto records = ReadKeyed(log);
    ASSERT_TRUE(records.ok()) << records.status();
    std::map<std::string, int> count;
    int64_t prev = -1;
    for (const auto& r : *records) {
      ASSERT_GT(r.offset, prev) << "offsets increase";
      prev = r.offset;
      auto w = writes_.find(r.offset);
      ASSERT_NE(w, writes_.end()) << "offset " << r.offset << " was never written";
      ASSERT_EQ(w->second.key, r.key) << "offset " << r.offset;
      ASSERT_EQ(w->second.value, r.value) << "offset " << r.offset;
      ASSERT_EQ(w->second.ts, r.timestamp) << "offset " << r.offset;
      ++count[r.key];
    }
    for (const auto& [key, offset] : latest_) {
      bool present = false;
      for (const auto& r : *records) present |= r.offset == offset;
      if (present) continue;
      ASSERT_TRUE(Droppable(offset))
          << "the latest write of " << key << " at " << offset << " is missing";
    }
  }
  // After cleaning everything past every horizon: exactly the live keys, once each.
  void CheckFinal(const Log& log) const {
    auto records = ReadKeyed(log);
    ASSERT_TRUE(records.ok()) << records.status();
    std::map<std::string, int64_t> seen;
    for (const auto& r : *records) {
      ASSERT_FALSE(seen.contains(r.key)) << r.key << " appears twice";
      seen[r.key] = r.offset;
    }
    for (const auto& [key, offset] : latest_) {
      if (Droppable(offset)) {
        EXPECT_FALSE(seen.contains(key)) << "deleted key " << key << " is past its horizon";
      } else {
        EXPECT_EQ(seen[key], offset) << key;
      }
    }
  }

 private:
  struct WriteRec {
    std::string key;
    std::optional<std::string> value;
    int64_t ts;
  };
  bool Droppable(int64_t offset) const {
    auto c = covered_.find(offset);
    return !writes_.at(offset).value.has_value() && c != covered_.end() &&
           c->second + retention_ms_ <= last_clean_ms_;
  }
  std::map<int64_t, WriteRec> writes_;
  std::map<std::string, int64_t> latest_;
  std::map<int64_t, int64_t> covered_;  // tombstone offset -> first clean that covered it
  int64_t last_clean_ms_ = 0;
  int64_t retention_ms_ = 0;
};

}  // namespace strata::testing
