#include "gp/uplink.h"

#include "gp/log.h"

namespace gp {
namespace {
const char* const kTag = "uplink";
}

bool Uplink::store(Reading& r) {
  uint8_t buf[kRecordPayloadSize];
  const size_t n = encode_record(r, buf, sizeof buf);
  uint32_t seq = 0;
  if (n == 0 || !log_.append(buf, n, &seq)) {
    ++stats_.store_failures;
    GP_LOGE(kTag, "reading not stored: flash write failed");
    return false;
  }
  r.seq = seq;
  if (log_.pending() == 1) oldest_known_ = false;
  return true;
}

bool Uplink::oldest_epoch(int64_t& out) {
  if (!oldest_known_) {
    if (log_.peek(1, records_) == 0) return false;
    Reading r;
    oldest_epoch_ = decode_record(records_[0].data.data(), records_[0].data.size(), records_[0].seq, r) ? r.epoch_s : 0;
    oldest_known_ = true;
  }
  out = oldest_epoch_;
  return true;
}

bool Uplink::due(int64_t now_epoch_s) {
  const uint32_t pending = log_.pending();
  if (pending == 0) return false;
  if (pending >= settings_.batch_size) return true;
  int64_t oldest;
  return oldest_epoch(oldest) && now_epoch_s - oldest >= static_cast<int64_t>(settings_.flush_after_s);
}

size_t Uplink::pump(Publisher& publisher, int64_t now_epoch_s, size_t max_messages) {
  size_t sent = 0;
  std::string payload;
  while (sent < max_messages && due(now_epoch_s)) {
    const uint32_t batch = settings_.batch_size ? settings_.batch_size : 1;
    const uint32_t limit = log_.pending() > batch && settings_.backlog_batch > batch ? settings_.backlog_batch : batch;
    log_.peek(limit, records_);
    if (records_.empty()) break;
    readings_.clear();
    for (const LogRecord& rec : records_) {
      Reading r;
      if (decode_record(rec.data.data(), rec.data.size(), rec.seq, r)) {
        readings_.push_back(r);
      } else {
        ++stats_.undecodable;
        GP_LOGE(kTag, "record %u is not a reading: skipped", static_cast<unsigned>(rec.seq));
      }
    }
    if (readings_.empty()) {  // nothing sendable in this stretch: step over it
      log_.ack_through(records_.back().seq);
      oldest_known_ = false;
      continue;
    }
    const size_t used = pack_message(readings_.data(), readings_.size(), limit, settings_.max_message_bytes, payload);
    if (!publisher.publish(topic_, payload)) {
      ++stats_.publish_failures;
      GP_LOGW(kTag, "publish of %u readings failed; %u waiting", static_cast<unsigned>(used),
              static_cast<unsigned>(log_.pending()));
      break;
    }
    log_.ack_through(readings_[used - 1].seq);
    oldest_known_ = false;
    ++stats_.messages_sent;
    stats_.readings_sent += static_cast<uint32_t>(used);
    ++sent;
  }
  return sent;
}

}  // namespace gp
