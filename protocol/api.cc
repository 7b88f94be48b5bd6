#include "protocol/api.h"

#include <array>

namespace strata::protocol {
namespace {

// ControlledShutdown v0 is the only request with header v0 (no client id).
constexpr int16_t kControlledShutdownKey = 7;
constexpr int kMaxKey = 128;

const std::array<const ApiInfo*, kMaxKey>& Index() {
  static const std::array<const ApiInfo*, kMaxKey> index = [] {
    std::array<const ApiInfo*, kMaxKey> by_key{};
    for (const ApiInfo& api : AllApis()) by_key[static_cast<size_t>(api.key)] = &api;
    return by_key;
  }();
  return index;
}

bool IsFlexible(int16_t api_key, int16_t api_version) {
  const ApiInfo* api = FindApi(api_key);
  return api != nullptr && api->IsFlexible(api_version);
}

}  // namespace

const ApiInfo* FindApi(int16_t key) {
  if (key < 0 || key >= kMaxKey) return nullptr;
  return Index()[static_cast<size_t>(key)];
}

int16_t RequestHeaderVersion(int16_t api_key, int16_t api_version) {
  if (api_key == kControlledShutdownKey && api_version == 0) return 0;
  return IsFlexible(api_key, api_version) ? 2 : 1;
}

int16_t ResponseHeaderVersion(int16_t api_key, int16_t api_version) {
  if (api_key == static_cast<int16_t>(ApiKey::kApiVersions)) return 0;
  return IsFlexible(api_key, api_version) ? 1 : 0;
}

}  // namespace strata::protocol
