// kafkajs 2.2.4 (from the npm registry, pinned by tests/integration/node/package-lock.json)
// against a broker: admin, an idempotent gzip producer; the records are read back with
// librdkafka. node_modules is installed once per build directory with `npm ci`.
#include <gtest/gtest.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/rdkafka.h"
#include "tests/testing/shell.h"

#ifndef STRATA_SOURCE_DIR
#error "STRATA_SOURCE_DIR must be defined"
#endif
#ifndef STRATA_NODE_DIR
#error "STRATA_NODE_DIR must be defined"
#endif

namespace strata {
namespace {

std::string Shell(const std::string& cmd, int* code) {
  testing::ShellResult r = testing::Shell(cmd + " 2>&1");
  *code = r.exit_code;
  return r.out;
}

TEST(KafkajsTest, AdminAndIdempotentProducer) {
  std::string node_dir = STRATA_NODE_DIR;
  int code = 0;
  if (!FileSystem::Default()->Exists(node_dir + "/node_modules/kafkajs/package.json")) {
    std::string src = absl::StrCat(STRATA_SOURCE_DIR, "/tests/integration/node");
    std::string out = Shell(absl::StrCat("mkdir -p ", node_dir, " && cp ", src, "/package.json ",
                                         src, "/package-lock.json ", node_dir, " && cd ", node_dir,
                                         " && npm ci --no-audit --no-fund"),
                            &code);
    ASSERT_EQ(code, 0) << "npm ci (kafkajs from the npm registry) failed:\n" << out;
  }
  testing::BrokerProcess broker;
  ASSERT_TRUE(broker.ok()) << broker.log();
  // Run a copy beside node_modules: node resolves require() from the script's directory.
  std::string out =
      Shell(absl::StrCat("cp ", STRATA_SOURCE_DIR, "/tests/integration/node/smoke.js ", node_dir,
                         " && cd ", node_dir, " && KAFKAJS_NO_PARTITIONER_WARNING=1 node smoke.js ",
                         broker.bootstrap()),
            &code);
  ASSERT_EQ(code, 0) << out << "\nbroker log:\n" << broker.log();
  EXPECT_NE(out.find("kafkajs ok"), std::string::npos) << out;
  for (int partition : {0, 1}) {
    auto msgs = testing::Consume(broker.bootstrap(), "kjs", {partition}, 0, 500);
    ASSERT_EQ(msgs.size(), 500u);
    for (int j = 0; j < 500; ++j) EXPECT_EQ(msgs[j].value, absl::StrCat("v", 2 * j + partition));
  }
}

}  // namespace
}  // namespace strata
