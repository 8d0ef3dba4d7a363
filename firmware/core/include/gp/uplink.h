// Store and forward: every reading goes to the flash log first; messages are
// built from the oldest undelivered readings and a reading leaves the log only
// when the broker has acknowledged (PUBACK, QoS 1) the message that carried it.
// So an outage of hours costs nothing but flash (the 960 KB "rbuf" partition
// holds about 15,000 readings: 5 days at one every 30 s), and the backlog goes
// out oldest first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gp/reading.h"
#include "gp/ring_log.h"
#include "gp/telemetry.h"

namespace gp {

class Publisher {
 public:
  virtual ~Publisher() = default;
  // QoS 1: true once the broker acknowledged the message.
  virtual bool publish(const std::string& topic, const std::string& payload) = 0;
};

struct UplinkSettings {
  uint32_t batch_size = 10;          // readings per message in steady state
  uint32_t backlog_batch = 25;       // readings per message while catching up
  size_t max_message_bytes = kMaxMessageBytes;
  uint32_t flush_after_s = 600;      // a partial batch this old goes out anyway
};

struct UplinkStats {
  uint32_t messages_sent = 0;
  uint32_t readings_sent = 0;
  uint32_t publish_failures = 0;
  uint32_t undecodable = 0;
  uint32_t store_failures = 0;
};

class Uplink {
 public:
  Uplink(RingLog& log, std::string topic) : log_(log), topic_(std::move(topic)) {}
  void set_topic(const std::string& topic) { topic_ = topic; }
  void set_settings(const UplinkSettings& s) { settings_ = s; }
  const UplinkSettings& settings() const { return settings_; }

  // Persists the reading; sets its seq. False when the flash failed.
  bool store(Reading& r);
  // Whether a message should go now.
  bool due(int64_t now_epoch_s);
  // Publishes due messages, at most `max_messages`; stops at the first failure.
  size_t pump(Publisher& publisher, int64_t now_epoch_s, size_t max_messages);

  uint32_t pending() const { return log_.pending(); }
  const UplinkStats& stats() const { return stats_; }

 private:
  bool oldest_epoch(int64_t& out);
  RingLog& log_;
  std::string topic_;
  UplinkSettings settings_;
  UplinkStats stats_;
  bool oldest_known_ = false;
  int64_t oldest_epoch_ = 0;
  std::vector<LogRecord> records_;
  std::vector<Reading> readings_;
};

}  // namespace gp
