#pragma once
#include <string>
#include "Arduino.h"
class Preferences {
 public:
  bool begin(const char* name, bool read_only = false, const char* partition_label = nullptr);
  void end();
  bool isKey(const char* key);
  String getString(const char* key, const String default_value = String());
  size_t putString(const char* key, const char* value);
  int64_t getLong64(const char* key, int64_t default_value = 0);
  size_t putLong64(const char* key, int64_t value);
  bool remove(const char* key);

 private:
  std::string key(const char* k) const { return ns_ + "/" + k; }
  std::string ns_;
  bool open_ = false;
  bool read_only_ = false;
};
