#include "common/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace strata::crc32c {
namespace {

constexpr uint32_t kPoly = 0x82F63B78;  // reflected Castagnoli polynomial

// slicing-by-8 tables: kTables[k][b] = CRC of byte b followed by k zero bytes.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t;
  constexpr Tables() : t{} {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1) ? kPoly : 0);
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b) {
      for (size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
  }
};
constexpr Tables kTables;

// --- Shifting a CRC register over runs of zero bytes (GF(2) matrix powers), used to merge the
// three interleaved streams of the hardware path. ---

// Multiplies the 32x32 GF(2) matrix `mat` by vector `vec`.
uint32_t MatrixTimes(const uint32_t* mat, uint32_t vec) {
  uint32_t sum = 0;
  while (vec) {
    if (vec & 1) sum ^= *mat;
    vec >>= 1;
    ++mat;
  }
  return sum;
}

void MatrixSquare(uint32_t* square, const uint32_t* mat) {
  for (int n = 0; n < 32; ++n) square[n] = MatrixTimes(mat, mat[n]);
}

// Builds the operator that advances a CRC register over `len` zero bytes (len a power of two
// times one byte is not required: plain square-and-multiply).
void ZerosOperator(uint32_t* even, size_t len) {
  uint32_t odd[32];
  odd[0] = kPoly;  // operator for one zero bit
  uint32_t row = 1;
  for (int n = 1; n < 32; ++n) {
    odd[n] = row;
    row <<= 1;
  }
  MatrixSquare(even, odd);  // 2 bits
  MatrixSquare(odd, even);  // 4 bits
  // odd now advances 4 bits; squaring alternately gives 8, 16, ... bits.
  do {
    MatrixSquare(even, odd);  // 1 byte, 4 bytes, ...
    len >>= 1;
    if (len == 0) return;
    MatrixSquare(odd, even);
    len >>= 1;
  } while (len);
  std::memcpy(even, odd, sizeof(odd));
}

// A table form of a zeros operator: shift(crc) = x[0][crc&ff] ^ x[1][..] ^ x[2][..] ^ x[3][..].
struct ShiftTable {
  uint32_t x[4][256];
};

void BuildShiftTable(ShiftTable* table, size_t len) {
  uint32_t op[32];
  ZerosOperator(op, len);
  for (uint32_t n = 0; n < 256; ++n) {
    table->x[0][n] = MatrixTimes(op, n);
    table->x[1][n] = MatrixTimes(op, n << 8);
    table->x[2][n] = MatrixTimes(op, n << 16);
    table->x[3][n] = MatrixTimes(op, n << 24);
  }
}

inline uint32_t Shift(const ShiftTable& t, uint32_t crc) {
  return t.x[0][crc & 0xff] ^ t.x[1][(crc >> 8) & 0xff] ^ t.x[2][(crc >> 16) & 0xff] ^
         t.x[3][crc >> 24];
}

// Block sizes of the three-way interleave. Long blocks amortise the merge; short ones keep
// medium-sized inputs (a few KiB) on the fast path.
constexpr size_t kLong = 8192;
constexpr size_t kShort = 256;

struct HardwareState {
  ShiftTable long_shift;
  ShiftTable short_shift;
  HardwareState() {
    // ZerosOperator's loop structure needs len to be counted in bytes and a power of two.
    BuildShiftTable(&long_shift, kLong);
    BuildShiftTable(&short_shift, kShort);
  }
};

const HardwareState& State() {
  static const HardwareState* state = new HardwareState();
  return *state;
}

using ExtendFn = uint32_t (*)(uint32_t, const void*, size_t);

ExtendFn Choose() { return HardwareAvailable() ? ExtendHardware : ExtendPortable; }

const ExtendFn kExtend = Choose();

}  // namespace

uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  const auto& t = kTables.t;
  uint32_t c = ~crc;
  while (n && (reinterpret_cast<uintptr_t>(p) & 7)) {
    c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
    --n;
  }
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    word ^= c;
    c = t[7][word & 0xff] ^ t[6][(word >> 8) & 0xff] ^ t[5][(word >> 16) & 0xff] ^
        t[4][(word >> 24) & 0xff] ^ t[3][(word >> 32) & 0xff] ^ t[2][(word >> 40) & 0xff] ^
        t[1][(word >> 48) & 0xff] ^ t[0][word >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
  return ~c;
}

#if defined(__x86_64__)

namespace {

// Runs the three-way interleave over as many 3*block chunks as fit; returns the new register.
__attribute__((target("sse4.2"))) uint64_t Interleave(uint64_t c0, const uint8_t*& p,
                                                        size_t& n, size_t block,
                                                        const ShiftTable& shift) {
  while (n >= 3 * block) {
    uint64_t c1 = 0, c2 = 0;
    const uint8_t* end = p + block;
    do {
      uint64_t w0, w1, w2;
      std::memcpy(&w0, p, 8);
      std::memcpy(&w1, p + block, 8);
      std::memcpy(&w2, p + 2 * block, 8);
      c0 = _mm_crc32_u64(c0, w0);
      c1 = _mm_crc32_u64(c1, w1);
      c2 = _mm_crc32_u64(c2, w2);
      p += 8;
    } while (p < end);
    c0 = Shift(shift, static_cast<uint32_t>(c0)) ^ c1;
    c0 = Shift(shift, static_cast<uint32_t>(c0)) ^ c2;
    p += 2 * block;
    n -= 3 * block;
  }
  return c0;
}

}  // namespace

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const void* data,
                                                            size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t c = ~crc;
  while (n && (reinterpret_cast<uintptr_t>(p) & 7)) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  const HardwareState& state = State();
  c = Interleave(c, p, n, kLong, state.long_shift);
  c = Interleave(c, p, n, kShort, state.short_shift);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  while (n--) c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
  return ~static_cast<uint32_t>(c);
}

bool HardwareAvailable() { return __builtin_cpu_supports("sse4.2"); }

#else

uint32_t ExtendHardware(uint32_t crc, const void* data, size_t n) {
  return ExtendPortable(crc, data, n);
}
bool HardwareAvailable() { return false; }

#endif

uint32_t Extend(uint32_t crc, const void* data, size_t n) { return kExtend(crc, data, n); }

const char* Implementation() { return kExtend == ExtendPortable ? "portable" : "sse4.2"; }

}  // namespace strata::crc32c
