#include "server/group_records.h"

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/status.h"

namespace strata::server {
namespace {

void WriteString(ByteWriter& w, absl::string_view s) {
  w.WriteInt16(static_cast<int16_t>(s.size()));
  w.WriteBytes(s);
}

void WriteNullableString(ByteWriter& w, const std::optional<std::string>& s) {
  if (!s.has_value()) return w.WriteInt16(-1);
  WriteString(w, *s);
}

void WriteBytesField(ByteWriter& w, absl::string_view b) {
  w.WriteInt32(static_cast<int32_t>(b.size()));
  w.WriteBytes(b);
}

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed __consumer_offsets record: ", what));
}

absl::StatusOr<std::optional<std::string>> ReadNullableString(ByteReader& r) {
  ASSIGN_OR_RETURN(int16_t len, r.ReadInt16());
  if (len == -1) return std::optional<std::string>();
  if (len < 0) return Bad("negative string length");
  ASSIGN_OR_RETURN(auto bytes, r.ReadBytes(static_cast<size_t>(len)));
  return std::optional<std::string>(std::string(AsStringView(bytes)));
}

absl::StatusOr<std::string> ReadString(ByteReader& r) {
  ASSIGN_OR_RETURN(auto s, ReadNullableString(r));
  if (!s.has_value()) return Bad("null string");
  return *s;
}

absl::StatusOr<std::string> ReadBytesField(ByteReader& r) {
  ASSIGN_OR_RETURN(int32_t len, r.ReadInt32());
  if (len < 0) return std::string();
  ASSIGN_OR_RETURN(auto bytes, r.ReadBytes(static_cast<size_t>(len)));
  return std::string(AsStringView(bytes));
}

absl::StatusOr<MemberValue> ReadMember(ByteReader& r, int16_t version) {
  MemberValue m;
  ASSIGN_OR_RETURN(m.member_id, ReadString(r));
  if (version >= 3) {
    ASSIGN_OR_RETURN(m.group_instance_id, ReadNullableString(r));
  }
  ASSIGN_OR_RETURN(m.client_id, ReadString(r));
  ASSIGN_OR_RETURN(m.client_host, ReadString(r));
  if (version >= 1) {
    ASSIGN_OR_RETURN(m.rebalance_timeout_ms, r.ReadInt32());
  }
  ASSIGN_OR_RETURN(m.session_timeout_ms, r.ReadInt32());
  ASSIGN_OR_RETURN(m.subscription, ReadBytesField(r));
  ASSIGN_OR_RETURN(m.assignment, ReadBytesField(r));
  return m;
}

}  // namespace

std::string EncodeKey(const OffsetKey& key) {
  std::string out;
  ByteWriter w(&out);
  w.WriteInt16(1);
  WriteString(w, key.group);
  WriteString(w, key.topic);
  w.WriteInt32(key.partition);
  return out;
}

std::string EncodeKey(const GroupKey& key) {
  std::string out;
  ByteWriter w(&out);
  w.WriteInt16(2);
  WriteString(w, key.group);
  return out;
}

std::string EncodeOffsetValue(const OffsetValue& v) {
  std::string out;
  ByteWriter w(&out);
  bool v1 = v.expire_timestamp >= 0;
  w.WriteInt16(v1 ? 1 : 3);
  w.WriteInt64(v.offset);
  if (!v1) w.WriteInt32(v.leader_epoch);
  WriteString(w, v.metadata);
  w.WriteInt64(v.commit_timestamp);
  if (v1) w.WriteInt64(v.expire_timestamp);
  return out;
}

std::string EncodeGroupValue(const GroupValue& v) {
  std::string out;
  ByteWriter w(&out);
  w.WriteInt16(3);
  WriteString(w, v.protocol_type);
  w.WriteInt32(v.generation);
  WriteNullableString(w, v.protocol);
  WriteNullableString(w, v.leader);
  w.WriteInt64(v.current_state_timestamp);
  w.WriteInt32(static_cast<int32_t>(v.members.size()));
  for (const MemberValue& m : v.members) {
    WriteString(w, m.member_id);
    WriteNullableString(w, m.group_instance_id);
    WriteString(w, m.client_id);
    WriteString(w, m.client_host);
    w.WriteInt32(m.rebalance_timeout_ms);
    w.WriteInt32(m.session_timeout_ms);
    WriteBytesField(w, m.subscription);
    WriteBytesField(w, m.assignment);
  }
  return out;
}

absl::StatusOr<RecordKey> DecodeKey(absl::string_view bytes) {
  ByteReader r(AsBytes(bytes));
  ASSIGN_OR_RETURN(int16_t version, r.ReadInt16());
  if (version == 0 || version == 1) {
    OffsetKey k;
    ASSIGN_OR_RETURN(k.group, ReadString(r));
    ASSIGN_OR_RETURN(k.topic, ReadString(r));
    ASSIGN_OR_RETURN(k.partition, r.ReadInt32());
    return RecordKey(k);
  }
  if (version == 2) {
    GroupKey k;
    ASSIGN_OR_RETURN(k.group, ReadString(r));
    return RecordKey(k);
  }
  return Bad(absl::StrCat("unknown key version ", version));
}

absl::StatusOr<OffsetValue> DecodeOffsetValue(absl::string_view bytes) {
  ByteReader r(AsBytes(bytes));
  ASSIGN_OR_RETURN(int16_t version, r.ReadInt16());
  if (version < 0 || version > 3)
    return Bad(absl::StrCat("unknown offset value version ", version));
  OffsetValue v;
  ASSIGN_OR_RETURN(v.offset, r.ReadInt64());
  if (version >= 3) {
    ASSIGN_OR_RETURN(v.leader_epoch, r.ReadInt32());
  }
  ASSIGN_OR_RETURN(v.metadata, ReadString(r));
  ASSIGN_OR_RETURN(v.commit_timestamp, r.ReadInt64());
  if (version == 1) {
    ASSIGN_OR_RETURN(v.expire_timestamp, r.ReadInt64());
  }
  return v;
}

absl::StatusOr<GroupValue> DecodeGroupValue(absl::string_view bytes) {
  ByteReader r(AsBytes(bytes));
  ASSIGN_OR_RETURN(int16_t version, r.ReadInt16());
  if (version < 0 || version > 3) return Bad(absl::StrCat("unknown group value version ", version));
  GroupValue v;
  ASSIGN_OR_RETURN(v.protocol_type, ReadString(r));
  ASSIGN_OR_RETURN(v.generation, r.ReadInt32());
  ASSIGN_OR_RETURN(v.protocol, ReadNullableString(r));
  ASSIGN_OR_RETURN(v.leader, ReadNullableString(r));
  if (version >= 2) {
    ASSIGN_OR_RETURN(v.current_state_timestamp, r.ReadInt64());
  }
  ASSIGN_OR_RETURN(int32_t count, r.ReadInt32());
  if (count < 0 || static_cast<size_t>(count) > r.remaining()) return Bad("member count");
  for (int32_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(MemberValue m, ReadMember(r, version));
    v.members.push_back(std::move(m));
  }
  return v;
}

// Decodes UTF-8 into UTF-16 code units as Java strings hold them (surrogate pairs above
// U+FFFF, U+FFFD for malformed bytes) and hashes them as String.hashCode does.
int32_t JavaStringHashCode(absl::string_view s) {
  uint32_t h = 0;
  auto unit = [&h](uint32_t u) { h = 31 * h + u; };
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    int extra = b < 0x80 ? 0 : (b >> 5) == 6 ? 1 : (b >> 4) == 14 ? 2 : (b >> 3) == 30 ? 3 : -1;
    uint32_t cp = extra == 0 ? b : extra == 1 ? (b & 0x1f) : extra == 2 ? (b & 0x0f) : (b & 0x07);
    bool ok = extra >= 0 && i + static_cast<size_t>(extra) < s.size() + (extra == 0 ? 1 : 0);
    for (int k = 1; ok && k <= extra; ++k) {
      auto c = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      ok = (c & 0xc0) == 0x80;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (!ok) {
      unit(0xfffd);
      ++i;
      continue;
    }
    i += static_cast<size_t>(extra) + 1;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(0xd800 + (cp >> 10));
      unit(0xdc00 + (cp & 0x3ff));
    } else {
      unit(cp);
    }
  }
  return static_cast<int32_t>(h);
}

int32_t CoordinatorPartition(absl::string_view group, int32_t partitions) {
  int32_t h = JavaStringHashCode(group);
  int32_t abs = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
  return abs % partitions;
}

}  // namespace strata::server
