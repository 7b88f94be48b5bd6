// Golden bytes written as hex in tests: Hex("00 12 ff") == std::string("\x00\x12\xff", 3).
#pragma once

#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"

namespace strata::protocol::test {

// Pairs of hex digits; spaces, newlines and '|' (for grouping) are ignored.
inline std::string Hex(absl::string_view text) {
  std::string out;
  std::string digits;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '|') continue;
    digits.push_back(c);
    if (digits.size() == 2) {
      out.push_back(static_cast<char>(std::strtoul(digits.c_str(), nullptr, 16)));
      digits.clear();
    }
  }
  return out;
}

}  // namespace strata::protocol::test
