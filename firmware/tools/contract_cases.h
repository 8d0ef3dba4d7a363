// The firmware's side of contracts/: fixed inputs (PZEM answers, ADC
// levels, times, commands) run through the real firmware code, and the
// payloads it publishes. contracts/<file> must hold exactly `payload` plus a
// newline (tests/core/contract_test.cpp); tools/emit_payloads prints them for
// tests/contract/test_firmware_contract.py and can rewrite the files.
#pragma once

#include <string>
#include <vector>

namespace gpcontract {

struct ContractCase {
  std::string name;     // e.g. "backlog_batch"
  std::string file;     // relative to contracts/, e.g. "telemetry/backlog_batch.json"
  std::string topic;    // "telemetry" or "status": gridpulse/{thing}/<topic>
  std::string payload;  // the bytes the device publishes
  std::string note;     // how the inputs made it
};

std::vector<ContractCase> contract_cases();

// 2026-11-22T10:00:00Z: the first reading of every telemetry case.
extern const long long kStartEpoch;

}  // namespace gpcontract
