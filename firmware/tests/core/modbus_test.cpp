#include <gtest/gtest.h>

#include "gp/crc.h"
#include "gp/modbus.h"
#include "gp/sensor.h"
#include "gp/testing/fakes.h"
#include "test_util.h"

using gp::modbus::Status;
using testutil::frame;

TEST(Crc, KnownVectors) {
  const uint8_t textbook[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x01};
  EXPECT_EQ(gp::crc16_modbus(textbook, sizeof textbook), 0x0A84);  // sent as 84 0A
  const char* check = "123456789";
  EXPECT_EQ(gp::crc16_modbus(reinterpret_cast<const uint8_t*>(check), 9), 0x4B37);
  EXPECT_EQ(gp::crc32(check, 9), 0xCBF43926u);
  EXPECT_EQ(gp::crc32("6789", 4, gp::crc32("12345", 5)), 0xCBF43926u);  // incremental
}

TEST(Modbus, BuildsTheRecordedRequests) {
  uint8_t req[8];
  ASSERT_EQ(gp::pzem::build_read_request(0xF8, req, sizeof req), 8u);
  EXPECT_EQ(std::vector<uint8_t>(req, req + 8), frame("pzem_read_request_general.hex"));
  ASSERT_EQ(gp::pzem::build_read_request(0x01, req, sizeof req), 8u);
  EXPECT_EQ(std::vector<uint8_t>(req, req + 8), frame("pzem_read_request_addr1.hex"));
  uint8_t reset[4];
  ASSERT_EQ(gp::modbus::build_reset_energy(0x01, reset, sizeof reset), 4u);
  EXPECT_EQ(std::vector<uint8_t>(reset, reset + 4), frame("pzem_reset_energy_ok.hex"));
  EXPECT_EQ(gp::pzem::build_read_request(0xF8, req, 7), 0u);
}

TEST(Modbus, ParsesARecordedAnswer) {
  const auto f = frame("pzem_read_ok.hex");
  gp::pzem::Measurement m;
  ASSERT_EQ(gp::pzem::parse_measurement(f.data(), f.size(), 0xF8, m), Status::Ok);
  EXPECT_EQ(m.voltage_dv, 2301);
  EXPECT_EQ(m.current_ma, 1234);
  EXPECT_EQ(m.power_dw, 2783);
  EXPECT_EQ(m.energy_wh, 1234567);
  EXPECT_EQ(m.frequency_dhz, 500);
  EXPECT_EQ(m.power_factor_c, 98);
  EXPECT_FALSE(m.alarm);
  EXPECT_EQ(gp::testing::pzem_response(m), f);  // the test PZEM answers with the recorded bytes
}

TEST(Modbus, ThirtyTwoBitRegistersAreLowWordFirst) {
  const auto f = frame("pzem_read_large_alarm.hex");
  gp::pzem::Measurement m;
  ASSERT_EQ(gp::pzem::parse_measurement(f.data(), f.size(), 0x01, m), Status::Ok);
  EXPECT_EQ(m.voltage_dv, 2387);
  EXPECT_EQ(m.current_ma, 100000);
  EXPECT_EQ(m.power_dw, 0x34F6C);
  EXPECT_EQ(m.energy_wh, 0x5FFFF);
  EXPECT_EQ(m.frequency_dhz, 599);
  EXPECT_EQ(m.power_factor_c, 100);
  EXPECT_TRUE(m.alarm);
}

TEST(Modbus, RejectsBadCrcAndCorruptFrames) {
  gp::pzem::Measurement m;
  const auto bad_crc = frame("pzem_read_bad_crc.hex");
  EXPECT_EQ(gp::pzem::parse_measurement(bad_crc.data(), bad_crc.size(), 0xF8, m), Status::BadCrc);
  const auto flipped = frame("pzem_read_bit_flip.hex");
  EXPECT_EQ(gp::pzem::parse_measurement(flipped.data(), flipped.size(), 0xF8, m), Status::BadCrc);
  const auto ok = frame("pzem_read_ok.hex");
  EXPECT_EQ(gp::pzem::parse_measurement(ok.data(), ok.size() - 1, 0xF8, m), Status::Incomplete);
  EXPECT_EQ(gp::pzem::parse_measurement(ok.data(), 2, 0xF8, m), Status::Incomplete);
  std::vector<uint8_t> longer = ok;
  longer.push_back(0x00);
  EXPECT_EQ(gp::pzem::parse_measurement(longer.data(), longer.size(), 0xF8, m), Status::BadLength);
  EXPECT_EQ(gp::pzem::parse_measurement(ok.data(), ok.size(), 0x02, m), Status::WrongAddress);
  uint16_t regs[4];
  EXPECT_EQ(gp::modbus::parse_read_input_registers(ok.data(), ok.size(), 0x01, 4, regs), Status::BadLength);
}

TEST(Modbus, ExceptionAnswerCarriesItsCode) {
  const auto f = frame("pzem_exception_illegal_address.hex");
  gp::pzem::Measurement m;
  uint8_t code = 0;
  EXPECT_EQ(gp::pzem::parse_measurement(f.data(), f.size(), 0x01, m, &code), Status::Exception);
  EXPECT_EQ(code, 0x02);
  const auto reset = frame("pzem_reset_energy_ok.hex");
  EXPECT_EQ(gp::modbus::parse_reset_energy(reset.data(), reset.size(), 0x01), Status::Ok);
  EXPECT_EQ(gp::modbus::parse_reset_energy(f.data(), f.size(), 0x01), Status::WrongFunction);
}

TEST(Modbus, FrameAssemblerKnowsWhenAnAnswerIsComplete) {
  const auto ok = frame("pzem_read_ok.hex");
  gp::modbus::FrameAssembler a(gp::modbus::kReadInputRegisters);
  for (size_t i = 0; i + 1 < ok.size(); ++i) EXPECT_FALSE(a.push(ok[i])) << i;
  EXPECT_TRUE(a.push(ok.back()));
  EXPECT_EQ(a.size(), ok.size());
  const auto exc = frame("pzem_exception_illegal_address.hex");
  gp::modbus::FrameAssembler e(gp::modbus::kReadInputRegisters);
  size_t n = 0;
  while (!e.push(exc[n])) ++n;
  EXPECT_EQ(n + 1, exc.size());
}

TEST(PzemClient, RetriesACorruptAnswerAndTimesOutWithoutOne) {
  gp::testing::FakePzemPort port;
  port.m.voltage_dv = 2301;
  gp::PzemClient client(port);
  gp::pzem::Measurement m;
  EXPECT_EQ(client.read(m), Status::Ok);
  EXPECT_EQ(port.last_request, frame("pzem_read_request_general.hex"));
  port.corrupt_next = 1;
  EXPECT_EQ(client.read(m), Status::BadCrc);
  EXPECT_EQ(client.read(m), Status::Ok);
  port.present = false;
  EXPECT_EQ(client.read(m), Status::Incomplete);
}
