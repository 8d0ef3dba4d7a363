// Host stand-in for 256dpi/arduino-mqtt 2.5.x (the API subset the firmware uses).
#pragma once
#include "Arduino.h"

typedef enum {
  LWMQTT_SUCCESS = 0,
  LWMQTT_NETWORK_FAILED_CONNECT = -3,
  LWMQTT_NETWORK_TIMEOUT = -4,
  LWMQTT_CONNECTION_DENIED = -10,
} lwmqtt_err_t;
typedef enum { LWMQTT_CONNECTION_ACCEPTED = 0, LWMQTT_NOT_AUTHORIZED = 5 } lwmqtt_return_code_t;

class MQTTClient;
typedef void (*MQTTClientCallbackAdvanced)(MQTTClient* client, char topic[], char bytes[], int length);

class MQTTClient {
 public:
  explicit MQTTClient(int buf_size = 128) : buf_size_(buf_size) {}
  void begin(const char hostname[], int port, Client& client);
  void onMessageAdvanced(MQTTClientCallbackAdvanced cb) { callback_ = cb; }
  void setKeepAlive(int keep_alive) { keep_alive_ = keep_alive; }
  void setCleanSession(bool clean_session) { clean_ = clean_session; }
  void setTimeout(int timeout) { timeout_ = timeout; }
  bool connect(const char client_id[], bool skip = false);
  bool publish(const char topic[], const char payload[], int length, bool retained, int qos);
  bool subscribe(const char topic[], int qos);
  bool loop();
  bool connected();
  bool disconnect();
  lwmqtt_err_t lastError() { return last_error_; }
  lwmqtt_return_code_t returnCode() { return return_code_; }

 private:
  void deliver();
  int buf_size_;
  Client* client_ = nullptr;
  const char* host_ = nullptr;
  int port_ = 0;
  int keep_alive_ = 10;
  bool clean_ = true;
  int timeout_ = 1000;
  bool connected_ = false;
  MQTTClientCallbackAdvanced callback_ = nullptr;
  lwmqtt_err_t last_error_ = LWMQTT_SUCCESS;
  lwmqtt_return_code_t return_code_ = LWMQTT_CONNECTION_ACCEPTED;
};
