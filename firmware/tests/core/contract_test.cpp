// contracts/ holds, byte for byte, what the firmware publishes for the fixed
// inputs of tools/contract_cases.cpp. When the encoder changes on purpose,
// `make -C firmware contracts` rewrites the files and the diff shows the cloud side what changed.
#include <gtest/gtest.h>

#include "contract_cases.h"
#include "gp/json.h"
#include "gp/telemetry.h"
#include "test_util.h"

TEST(Contract, EveryValidExampleIsExactlyWhatTheFirmwarePublishes) {
  const auto cases = gpcontract::contract_cases();
  ASSERT_GE(cases.size(), 8u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    ASSERT_FALSE(c.payload.empty()) << c.name << " produced nothing";
    const std::string file = testutil::read_file(std::string(GP_CONTRACTS_DIR) + "/" + c.file);
    ASSERT_FALSE(file.empty()) << "missing; run `make -C firmware contracts`";
    EXPECT_EQ(file, c.payload + "\n");
    gp::JsonValue a, b;
    ASSERT_TRUE(gp::json_parse(file, a));
    ASSERT_TRUE(gp::json_parse(c.payload, b));
    EXPECT_TRUE(gp::json_equal(a, b));
    EXPECT_LE(c.payload.size(), gp::kMaxMessageBytes);
    if (c.topic == "telemetry") {
      std::vector<gp::Reading> readings;
      std::string err;
      EXPECT_TRUE(gp::decode_message(c.payload.data(), c.payload.size(), readings, &err)) << err;
    }
  }
}

TEST(Contract, TheBacklogExampleIsAFullBacklogMessage) {
  for (const auto& c : gpcontract::contract_cases()) {
    if (c.name != "backlog_batch") continue;
    std::vector<gp::Reading> readings;
    ASSERT_TRUE(gp::decode_message(c.payload.data(), c.payload.size(), readings));
    EXPECT_EQ(readings.size(), 25u);
    EXPECT_EQ(readings.front().epoch_s, gpcontract::kStartEpoch + 300);
    for (size_t i = 1; i < readings.size(); ++i) EXPECT_EQ(readings[i].seq, readings[i - 1].seq + 1);
  }
}
