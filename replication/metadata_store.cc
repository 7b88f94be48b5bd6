#include "replication/metadata_store.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "replication/embedded_store.h"
#include "replication/etcd_store.h"

namespace strata {

std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();  // 0xff cannot be incremented: carry into the byte before
  }
  return end;
}

absl::StatusOr<std::unique_ptr<MetadataStore>> OpenMetadataStore(
    absl::string_view uri, const MetadataStoreOptions& options) {
  if (uri.empty() || uri == "embedded") {
    if (options.data_dir.empty()) {
      return absl::InvalidArgumentError("the embedded metadata store needs a data dir");
    }
    ASSIGN_OR_RETURN(auto store, EmbeddedMetadataStore::Open({
                                     .dir = JoinPath(options.data_dir, "metadata"),
                                     .fs = options.fs,
                                     .clock = options.clock,
                                 }));
    return std::unique_ptr<MetadataStore>(std::move(store));
  }
  absl::string_view host_port = uri;
  if (absl::ConsumePrefix(&host_port, "etcd://")) {
    absl::ConsumeSuffix(&host_port, "/");
    const size_t colon = host_port.rfind(':');
    if (host_port.empty() || colon == absl::string_view::npos || colon == 0 ||
        colon + 1 == host_port.size() || absl::StrContains(host_port, "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata store URI must be etcd://HOST:PORT, got ", uri));
    }
    ASSIGN_OR_RETURN(auto store, EtcdMetadataStore::Open({
                                     .endpoint = absl::StrCat("http://", host_port),
                                     .request_timeout_ms = options.request_timeout_ms,
                                     .connect_timeout_ms = options.connect_timeout_ms,
                                 }));
    return std::unique_ptr<MetadataStore>(std::move(store));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown metadata store \"", uri, "\" (expected embedded or etcd://HOST:PORT)"));
}

}  // namespace strata
