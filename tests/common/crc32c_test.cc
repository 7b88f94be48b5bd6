#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace strata {
namespace {

uint32_t Crc(const std::string& s) { return crc32c::Value(s.data(), s.size()); }

// RFC 3720 (iSCSI) appendix B.4 test vectors and the common "123456789" check value.
TEST(Crc32cTest, PublishedVectors) {
  EXPECT_EQ(Crc("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc(descending), 0x113FDB5Cu);
  const uint8_t iscsi_read[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(crc32c::Value(iscsi_read, sizeof(iscsi_read)), 0xD9963A56u);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string s = "The quick brown fox jumps over the lazy dog";
  for (size_t split = 0; split <= s.size(); ++split) {
    uint32_t a = crc32c::Value(s.data(), split);
    EXPECT_EQ(crc32c::Extend(a, s.data() + split, s.size() - split), Crc(s)) << split;
  }
}

// The interleaved hardware path merges three streams; check it against the portable path at every
// length around its block boundaries and at odd alignments.
TEST(Crc32cTest, HardwareMatchesPortable) {
  if (!crc32c::HardwareAvailable()) GTEST_SKIP() << "no SSE4.2";
  std::mt19937 rng(42);
  std::vector<uint8_t> buf(3 * 8192 * 2 + 64);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  std::vector<size_t> lengths;
  for (size_t n = 0; n < 1100; ++n) lengths.push_back(n);
  for (size_t edge : {768u, 24576u, 49152u}) {
    for (size_t d = edge - 9; d <= edge + 9; ++d) lengths.push_back(d);
  }
  for (size_t n : lengths) {
    for (size_t offset : {0u, 1u, 3u, 7u}) {
      if (offset + n > buf.size()) continue;
      ASSERT_EQ(crc32c::ExtendHardware(0x12345678, buf.data() + offset, n),
                crc32c::ExtendPortable(0x12345678, buf.data() + offset, n))
          << "n=" << n << " offset=" << offset;
    }
  }
  EXPECT_STREQ(crc32c::Implementation(), "sse4.2");
}

}  // namespace
}  // namespace strata
