// Helpers for the client integration tests: a broker per test suite and small wrappers.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "client/admin.h"
#include "client/connection.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "common/clock.h"
#include "tests/testing/broker_process.h"

namespace strata::client::testing {

// Polls until `count` records arrived or `timeout_ms` passed.
inline std::vector<ConsumerRecord> ConsumeN(Consumer& c, size_t count,
                                            int64_t timeout_ms = 10'000) {
  std::vector<ConsumerRecord> out;
  int64_t deadline = Clock::System()->MonotonicMs() + timeout_ms;
  while (out.size() < count && Clock::System()->MonotonicMs() < deadline) {
    auto got = c.Poll(200);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) break;
    for (auto& r : *got) out.push_back(std::move(r));
  }
  return out;
}

// One broker shared by every test of a suite (starting one takes a moment); tests use their
// own topic names.
class BrokerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { broker_ = new strata::testing::BrokerProcess(); }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(broker_->ok()) << broker_->log(); }

  static std::vector<HostPort> Bootstrap() {
    auto hp = ParseHostPort(broker_->bootstrap());
    EXPECT_TRUE(hp.ok()) << hp.status();
    return {*hp};
  }
  static std::unique_ptr<Admin> MakeAdmin() {
    auto admin = Admin::Create({.bootstrap = Bootstrap()});
    EXPECT_TRUE(admin.ok()) << admin.status();
    return admin.ok() ? std::move(*admin) : nullptr;
  }
  static void CreateTopic(const std::string& name, int32_t partitions,
                          std::map<std::string, std::string> configs = {}) {
    auto admin = MakeAdmin();
    ASSERT_NE(admin, nullptr);
    absl::Status s =
        admin->CreateTopic({.name = name, .partitions = partitions, .configs = std::move(configs)});
    ASSERT_TRUE(s.ok()) << s;
  }
  static std::unique_ptr<Producer> MakeProducer(ProducerOptions options = {}) {
    options.bootstrap = Bootstrap();
    auto p = Producer::Create(options);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }
  static std::unique_ptr<Consumer> MakeConsumer(ConsumerOptions options = {}) {
    options.bootstrap = Bootstrap();
    if (options.max_wait_ms == 500) options.max_wait_ms = 100;
    auto c = Consumer::Create(options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  static strata::testing::BrokerProcess* broker_;
};

inline strata::testing::BrokerProcess* BrokerTest::broker_ = nullptr;

}  // namespace strata::client::testing
