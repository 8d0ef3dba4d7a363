#pragma once
#include "Arduino.h"
class WiFiClientSecure : public Client {
 public:
  void setCACert(const char* root_ca);
  void setCertificate(const char* client_ca);
  void setPrivateKey(const char* private_key);
  void setHandshakeTimeout(unsigned long handshake_timeout_s);
  int connect(const char* host, uint16_t port) override;
  uint8_t connected() override;
  void stop() override;
  int available() override { return 0; }
  int read() override { return -1; }
  size_t write(uint8_t) override { return 1; }
  using Print::write;

 private:
  bool has_ca_ = false, has_cert_ = false, has_key_ = false;
  bool open_ = false;
};
