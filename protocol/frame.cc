#include "protocol/frame.h"

#include "absl/strings/str_cat.h"
#include "common/bytes.h"

namespace strata::protocol {

size_t BeginFrame(Writer& w) {
  size_t start = w.size();
  w.Write(int32_t{0});
  return start;
}

void FinishFrame(Writer& w, size_t frame_start) {
  uint64_t size = w.size() - frame_start - sizeof(int32_t);
  for (const Splice& s : w.splices()) {
    // A splice at exactly frame_start ended the previous frame; ours start after the size.
    if (s.offset >= frame_start + sizeof(int32_t)) size += s.length;
  }
  w.PatchInt32(frame_start, static_cast<int32_t>(size));
}

absl::StatusOr<std::vector<std::span<const uint8_t>>> SplitFrames(
    std::span<const uint8_t> stream, size_t max_frame_bytes, size_t* consumed) {
  std::vector<std::span<const uint8_t>> frames;
  size_t pos = 0;
  while (stream.size() - pos >= sizeof(int32_t)) {
    auto size = static_cast<int32_t>(LoadBE32(stream.data() + pos));
    if (size < 0 || static_cast<size_t>(size) > max_frame_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("frame size ", size, " at stream offset ", pos, " (limit ",
                       max_frame_bytes, ")"));
    }
    if (stream.size() - pos - sizeof(int32_t) < static_cast<size_t>(size)) break;
    frames.push_back(stream.subspan(pos + sizeof(int32_t), static_cast<size_t>(size)));
    pos += sizeof(int32_t) + static_cast<size_t>(size);
  }
  *consumed = pos;
  return frames;
}

}  // namespace strata::protocol
