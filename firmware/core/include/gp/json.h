// A small JSON writer and a strict, bounded JSON parser (RFC 8259).
//
// Why our own: ArduinoJson is not packaged for Debian and nlohmann::json wants
// exceptions and a lot of flash on an ESP32. The device needs little: write
// telemetry with exact number formatting, read shadow documents and commands
// of a few KB. The same code runs on the device and in the host tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gp {

void json_escape(std::string& out, const char* s, size_t n);

// Appends compact JSON (no spaces) to `out`; keeps track of commas.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(const char* k);
  JsonWriter& value(const char* s);
  JsonWriter& value(const std::string& s);
  JsonWriter& value(int64_t v);
  JsonWriter& value(bool v);
  JsonWriter& null();
  JsonWriter& raw(const char* json);  // an already formatted value (a number)
  JsonWriter& fixed(int64_t scaled, int decimals);  // 2301,1 -> 230.1 (see append_fixed)

 private:
  void before_value();
  std::string& out_;
  std::vector<bool> first_;  // one per open container: nothing written in it yet
  bool after_key_ = false;
};

// `scaled` / 10^decimals with trailing zeros trimmed but at least one decimal:
// (2300,1) -> "230.0", (1200,3) -> "1.2", (-5,1) -> "-0.5". Exact: no floating point.
void append_fixed(std::string& out, int64_t scaled, int decimals);

class JsonValue {
 public:
  enum class Type : unsigned char { Null, Bool, Number, String, Array, Object };
  using Member = std::pair<std::string, JsonValue>;

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  bool as_bool() const { return bool_; }
  double as_number() const { return number_; }
  const std::string& as_string() const { return string_; }
  // An integer written without fraction or exponent that fits int64.
  bool is_integer_literal() const { return type_ == Type::Number && integer_literal_; }
  int64_t as_int() const { return int_; }
  // Any number with an integral value within int64 (50 and 50.0 both give 50).
  bool get_integral(int64_t& out) const;

  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }
  size_t size() const { return type_ == Type::Array ? items_.size() : members_.size(); }
  // The member named `key` (the last one when repeated), or nullptr.
  const JsonValue* get(const char* key) const;

  static JsonValue make_null() { return JsonValue(); }

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  bool integer_literal_ = false;
  double number_ = 0;
  int64_t int_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<Member> members_;
};

struct JsonLimits {
  size_t max_bytes = 16 * 1024;
  size_t max_depth = 12;
};

// Parses exactly one JSON value (surrounding whitespace allowed). On failure
// returns false and, when `error` is given, a short reason with the byte offset.
bool json_parse(const char* data, size_t len, JsonValue& out, std::string* error = nullptr,
                JsonLimits limits = JsonLimits());
inline bool json_parse(const std::string& s, JsonValue& out, std::string* error = nullptr,
                       JsonLimits limits = JsonLimits()) {
  return json_parse(s.data(), s.size(), out, error, limits);
}

// Structural equality (numbers compared by value, object member order ignored).
bool json_equal(const JsonValue& a, const JsonValue& b);

}  // namespace gp
