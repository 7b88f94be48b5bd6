// Value types shared by the Kafka codec: Uuid, the zero-copy Records field and splice points.
//
// `Records` is how every `records` field (Produce partition data, Fetch partition data) appears
// in a decoded message. Decoding never copies record bytes: `bytes` is a view into the frame the
// Reader was given, so the frame must outlive the message. Encoding either copies `bytes` into
// the output, or, for a Fetch response served with sendfile(2), leaves a hole:
//
//   Records r;
//   r.splice_id = 7;                 // caller's handle, e.g. an index into its file ranges
//   r.spliced_length = 1 << 20;      // bytes the caller will send in place of the hole
//   response.Encode(w, version);     // writes the length prefix for 1 MiB, no record bytes
//   for (const Splice& s : w.splices()) ...  // s.offset = where the file bytes go in the output
//
// The bytes that go on the wire are then out[0:s1.offset] + file bytes for s1 +
// out[s1.offset:s2.offset] + file bytes for s2 + ... + out[sN.offset:].
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>

namespace strata::protocol {

// A Kafka UUID (topic ids, directory ids): 16 raw bytes, all zero = Uuid.ZERO_UUID.
using Uuid = std::array<uint8_t, 16>;

struct Records {
  // Record batch bytes (a view; not owned). Ignored when splice_id >= 0 or is_null.
  std::span<const uint8_t> bytes;
  // With splice_id >= 0 the writer emits only the length prefix for `spliced_length` bytes and
  // records a Splice; the caller supplies those bytes when it sends the frame.
  uint64_t spliced_length = 0;
  int32_t splice_id = -1;
  // A null records field (length -1, or 0 in compact form).
  bool is_null = false;

  // Compares the content of `bytes` (not the pointer), spliced_length, splice_id and is_null.
  bool operator==(const Records& o) const {
    return spliced_length == o.spliced_length && splice_id == o.splice_id &&
           is_null == o.is_null && std::equal(bytes.begin(), bytes.end(), o.bytes.begin(),
                                              o.bytes.end());
  }
};

// A hole in an encoded buffer: `length` bytes identified by `splice_id` belong at `offset`
// (an offset into the Writer's output string, counted from the string's start).
struct Splice {
  size_t offset = 0;
  int32_t splice_id = -1;
  uint64_t length = 0;
  bool operator==(const Splice&) const = default;
};

}  // namespace strata::protocol
