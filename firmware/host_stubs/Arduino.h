// Host stand-in for the Arduino-ESP32 core (2.0.x): just what the sketches use.
#pragma once

#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "esp_system.h"

typedef bool boolean;
typedef uint8_t byte;

#define HIGH 0x1
#define LOW 0x0
#define INPUT 0x01
#define OUTPUT 0x03
#define SERIAL_8N1 0x800001c

unsigned long millis();
unsigned long micros();
void delay(uint32_t ms);
void delayMicroseconds(uint32_t us);
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t value);
int digitalRead(uint8_t pin);
uint16_t analogRead(uint8_t pin);
uint32_t analogReadMilliVolts(uint8_t pin);
double ledcSetup(uint8_t channel, double freq, uint8_t resolution_bits);
void ledcAttachPin(uint8_t pin, uint8_t channel);
void ledcWrite(uint8_t channel, uint32_t duty);
void configTime(long gmt_offset_sec, int daylight_offset_sec, const char* server1, const char* server2 = nullptr,
                const char* server3 = nullptr);

class String {
 public:
  String() = default;
  String(const char* s) : s_(s ? s : "") {}
  String(const std::string& s) : s_(s) {}
  const char* c_str() const { return s_.c_str(); }
  unsigned int length() const { return static_cast<unsigned int>(s_.size()); }
  bool operator==(const String& o) const { return s_ == o.s_; }
  String& operator+=(const String& o) {
    s_ += o.s_;
    return *this;
  }

 private:
  std::string s_;
};

class Print {
 public:
  virtual ~Print() = default;
  virtual size_t write(uint8_t c) = 0;
  virtual size_t write(const uint8_t* buf, size_t n) {
    for (size_t i = 0; i < n; ++i) write(buf[i]);
    return n;
  }
  size_t print(const char* s) { return write(reinterpret_cast<const uint8_t*>(s), std::strlen(s)); }
  size_t println(const char* s) { return print(s) + print("\n"); }
  size_t printf(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
};

class Stream : public Print {
 public:
  virtual int available() = 0;
  virtual int read() = 0;
};

class HardwareSerial : public Stream {
 public:
  explicit HardwareSerial(int uart) : uart_(uart) {}
  void begin(unsigned long baud, uint32_t config = SERIAL_8N1, int8_t rx_pin = -1, int8_t tx_pin = -1);
  size_t write(uint8_t c) override;
  using Print::write;
  int available() override;
  int read() override;
  void flush() {}

 private:
  int uart_;
};

extern HardwareSerial Serial;
extern HardwareSerial Serial2;

class Client : public Stream {
 public:
  virtual int connect(const char* host, uint16_t port) = 0;
  virtual uint8_t connected() = 0;
  virtual void stop() = 0;
};
