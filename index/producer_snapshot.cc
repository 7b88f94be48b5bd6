#include "index/producer_snapshot.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/status.h"

namespace strata {

constexpr size_t kCrcEnd = 6;  // version (2) + crc (4)

std::string EncodeProducerSnapshot(const ProducerMap& producers) {
  std::string out;
  ByteWriter w(&out);
  w.WriteInt16(kProducerSnapshotVersion);
  w.WriteInt32(0);  // crc, below
  w.WriteInt32(static_cast<int32_t>(producers.size()));
  for (const auto& [id, e] : producers) {
    w.WriteInt64(id);
    w.WriteInt16(e.epoch);
    w.WriteInt64(e.last_timestamp);
    w.WriteInt8(static_cast<int8_t>(e.batches.size()));
    for (const auto& b : e.batches) {
      w.WriteInt32(b.first_sequence);
      w.WriteInt32(b.last_sequence);
      w.WriteInt64(b.first_offset.value());
      w.WriteInt64(b.last_offset.value());
      w.WriteInt64(b.timestamp);
    }
  }
  StoreBE32(reinterpret_cast<uint8_t*>(out.data()) + 2,
            crc32c::Value(out.data() + kCrcEnd, out.size() - kCrcEnd));
  return out;
}

absl::StatusOr<ProducerMap> DecodeProducerSnapshot(absl::string_view bytes) {
  auto bad = [](absl::string_view why) {
    return CorruptionError(absl::StrCat("bad producer snapshot: ", why));
  };
  if (bytes.size() < kCrcEnd + 4) return bad("too short");
  ByteReader r(AsBytes(bytes));
  int16_t version = *r.ReadInt16();
  uint32_t crc = *r.ReadUint32();
  if (version != kProducerSnapshotVersion) return bad(absl::StrCat("version ", version));
  if (crc != crc32c::Value(bytes.data() + kCrcEnd, bytes.size() - kCrcEnd)) return bad("crc");
  int32_t count = *r.ReadInt32();
  if (count < 0 || static_cast<size_t>(count) > r.remaining() / 19) return bad("count");
  ProducerMap out;
  for (int32_t i = 0; i < count; ++i) {
    auto id = r.ReadInt64();
    auto epoch = r.ReadInt16();
    auto ts = r.ReadInt64();
    auto n = r.ReadInt8();
    if (!id.ok() || !epoch.ok() || !ts.ok() || !n.ok() || *n < 0 ||
        static_cast<size_t>(*n) > kMaxProducerBatches) {
      return bad("entry");
    }
    ProducerEntry e{*epoch, *ts, {}};
    for (int8_t b = 0; b < *n; ++b) {
      auto first = r.ReadInt32();
      auto last = r.ReadInt32();
      auto first_offset = r.ReadInt64();
      auto last_offset = r.ReadInt64();
      auto when = r.ReadInt64();
      if (!when.ok()) return bad("batch");
      e.batches.push_back({*first, *last, Offset(*first_offset), Offset(*last_offset), *when});
    }
    out[*id] = std::move(e);
  }
  if (!r.empty()) return bad("trailing bytes");
  return out;
}

std::string ProducerSnapshotName(Offset offset) {
  return absl::StrFormat("%020d.snapshot", offset.value());
}

absl::StatusOr<std::vector<Offset>> ListProducerSnapshots(FileSystem* fs, const std::string& dir) {
  ASSIGN_OR_RETURN(auto names, fs->ListDir(dir));
  std::vector<Offset> out;
  for (const auto& name : names) {
    int64_t v;
    if (name.size() == 29 && absl::EndsWith(name, ".snapshot") &&
        absl::SimpleAtoi(name.substr(0, 20), &v)) {
      out.push_back(Offset(v));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace strata
