// confluent-kafka-python and kafka-python (Debian packages, /usr/bin/python3) against a broker.
#include <gtest/gtest.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "tests/testing/broker_process.h"
#include "tests/testing/shell.h"

#ifndef STRATA_SOURCE_DIR
#error "STRATA_SOURCE_DIR must be defined"
#endif

namespace strata {
namespace {

TEST(PythonClientsTest, ConfluentKafkaAndKafkaPython) {
  testing::BrokerProcess broker;
  ASSERT_TRUE(broker.ok()) << broker.log();
  std::string cmd =
      absl::StrCat("/usr/bin/python3 ", STRATA_SOURCE_DIR,
                   "/tests/integration/python/clients_smoke.py ", broker.bootstrap(), " 2>&1");
  testing::ShellResult r = testing::Shell(cmd);
  const std::string& out = r.out;
  EXPECT_EQ(r.exit_code, 0) << out << "\nbroker log:\n" << broker.log();
  EXPECT_NE(out.find("confluent-kafka-python ok"), std::string::npos) << out;
  EXPECT_NE(out.find("kafka-python ok"), std::string::npos) << out;
}

}  // namespace
}  // namespace strata
