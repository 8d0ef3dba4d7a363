#include "gp/json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gp {

// ---------------------------------------------------------------- writing

void json_escape(std::string& out, const char* s, size_t n) {
  out.push_back('"');
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void append_fixed(std::string& out, int64_t scaled, int decimals) {
  if (decimals <= 0) {
    out += std::to_string(scaled);
    out += ".0";
    return;
  }
  uint64_t magnitude = scaled < 0 ? static_cast<uint64_t>(-(scaled + 1)) + 1 : static_cast<uint64_t>(scaled);
  uint64_t pow10 = 1;
  for (int i = 0; i < decimals; ++i) pow10 *= 10;
  uint64_t whole = magnitude / pow10;
  uint64_t frac = magnitude % pow10;
  if (scaled < 0) out.push_back('-');
  out += std::to_string(whole);
  out.push_back('.');
  char digits[24];
  int n = decimals;
  for (int i = n - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  while (n > 1 && digits[n - 1] == '0') --n;
  out.append(digits, static_cast<size_t>(n));
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  out_.push_back('{');
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  out_.push_back('}');
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  out_.push_back('[');
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  out_.push_back(']');
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::key(const char* k) {
  before_value();
  json_escape(out_, k, std::strlen(k));
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(const char* s) {
  before_value();
  json_escape(out_, s, std::strlen(s));
  return *this;
}

JsonWriter& JsonWriter::value(const std::string& s) {
  before_value();
  json_escape(out_, s.data(), s.size());
  return *this;
}

JsonWriter& JsonWriter::value(int64_t v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::value(bool v) {
  before_value();
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::raw(const char* json) {
  before_value();
  out_ += json;
  return *this;
}

JsonWriter& JsonWriter::fixed(int64_t scaled, int decimals) {
  before_value();
  append_fixed(out_, scaled, decimals);
  return *this;
}

// ---------------------------------------------------------------- values

bool JsonValue::get_integral(int64_t& out) const {
  if (type_ != Type::Number) return false;
  if (integer_literal_) {
    out = int_;
    return true;
  }
  if (!std::isfinite(number_) || std::floor(number_) != number_ || std::fabs(number_) > 9.0e15) return false;
  out = static_cast<int64_t>(number_);
  return true;
}

const JsonValue* JsonValue::get(const char* key) const {
  if (type_ != Type::Object) return nullptr;
  for (size_t i = members_.size(); i-- > 0;) {
    if (members_[i].first == key) return &members_[i].second;
  }
  return nullptr;
}

bool json_equal(const JsonValue& a, const JsonValue& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case JsonValue::Type::Null: return true;
    case JsonValue::Type::Bool: return a.as_bool() == b.as_bool();
    case JsonValue::Type::Number:
      if (a.is_integer_literal() && b.is_integer_literal()) return a.as_int() == b.as_int();
      return a.as_number() == b.as_number();
    case JsonValue::Type::String: return a.as_string() == b.as_string();
    case JsonValue::Type::Array:
      if (a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!json_equal(a.items()[i], b.items()[i])) return false;
      return true;
    case JsonValue::Type::Object:
      if (a.members().size() != b.members().size()) return false;
      for (const auto& m : a.members()) {
        const JsonValue* other = b.get(m.first.c_str());
        if (other == nullptr || !json_equal(m.second, *other)) return false;
      }
      return true;
  }
  return false;
}

// ---------------------------------------------------------------- parsing

class JsonParser {
 public:
  JsonParser(const char* data, size_t len, JsonLimits limits) : p_(data), begin_(data), end_(data + len), limits_(limits) {}

  bool parse(JsonValue& out, std::string* error) {
    bool ok = (static_cast<size_t>(end_ - begin_) <= limits_.max_bytes) || fail("document too large");
    if (ok) {
      skip_ws();
      ok = parse_value(out, 0);
    }
    if (ok) {
      skip_ws();
      if (p_ != end_) ok = fail("trailing characters");
    }
    if (!ok && error != nullptr) {
      char buf[80];
      std::snprintf(buf, sizeof buf, "%s at byte %ld", reason_, static_cast<long>(p_ - begin_));
      *error = buf;
    }
    return ok;
  }

 private:
  bool fail(const char* reason) {
    if (reason_[0] == '\0') std::snprintf(reason_, sizeof reason_, "%s", reason);
    return false;
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool literal(const char* word) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return fail("invalid literal");
    p_ += n;
    return true;
  }

  bool parse_value(JsonValue& out, size_t depth) {
    if (p_ >= end_) return fail("unexpected end");
    switch (*p_) {
      case '{': return parse_object(out, depth + 1);
      case '[': return parse_array(out, depth + 1);
      case '"': out.type_ = JsonValue::Type::String; return parse_string(out.string_);
      case 't': out.type_ = JsonValue::Type::Bool; out.bool_ = true; return literal("true");
      case 'f': out.type_ = JsonValue::Type::Bool; out.bool_ = false; return literal("false");
      case 'n': out.type_ = JsonValue::Type::Null; return literal("null");
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return parse_number(out);
        return fail("unexpected character");
    }
  }

  bool parse_object(JsonValue& out, size_t depth) {
    if (depth > limits_.max_depth) return fail("nested too deeply");
    out.type_ = JsonValue::Type::Object;
    ++p_;
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      skip_ws();
      if (p_ >= end_ || *p_ != '"') return fail("expected a key");
      JsonValue::Member member;
      if (!parse_string(member.first)) return false;
      skip_ws();
      if (p_ >= end_ || *p_ != ':') return fail("expected ':'");
      ++p_;
      skip_ws();
      if (!parse_value(member.second, depth)) return false;
      out.members_.push_back(std::move(member));
      skip_ws();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == '}') {
        ++p_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool parse_array(JsonValue& out, size_t depth) {
    if (depth > limits_.max_depth) return fail("nested too deeply");
    out.type_ = JsonValue::Type::Array;
    ++p_;
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      skip_ws();
      out.items_.emplace_back();
      if (!parse_value(out.items_.back(), depth)) return false;
      skip_ws();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        continue;
      }
      if (p_ < end_ && *p_ == ']') {
        ++p_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  static void put_utf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool hex4(uint32_t& out) {
    if (end_ - p_ < 4) return fail("short \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = *p_++;
      out <<= 4;
      if (c >= '0' && c <= '9') out |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') out |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') out |= static_cast<uint32_t>(c - 'A' + 10);
      else return fail("bad \\u escape");
    }
    return true;
  }

  bool parse_string(std::string& s) {
    ++p_;  // opening quote
    while (p_ < end_) {
      unsigned char c = static_cast<unsigned char>(*p_++);
      if (c == '"') return true;
      if (c < 0x20) return fail("control character in string");
      if (c != '\\') {
        s.push_back(static_cast<char>(c));
        continue;
      }
      if (p_ >= end_) break;
      char e = *p_++;
      switch (e) {
        case '"': s.push_back('"'); break;
        case '\\': s.push_back('\\'); break;
        case '/': s.push_back('/'); break;
        case 'b': s.push_back('\b'); break;
        case 'f': s.push_back('\f'); break;
        case 'n': s.push_back('\n'); break;
        case 'r': s.push_back('\r'); break;
        case 't': s.push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail("lone surrogate");
            p_ += 2;
            if (!hex4(low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return fail("lone surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("lone surrogate");
          }
          put_utf8(s, cp);
          break;
        }
        default: return fail("bad escape");
      }
    }
    return fail("unterminated string");
  }

  bool parse_number(JsonValue& out) {
    const char* start = p_;
    bool integer = true;
    if (*p_ == '-') ++p_;
    if (p_ >= end_) return fail("bad number");
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return fail("bad number");
    }
    if (p_ < end_ && *p_ == '.') {
      integer = false;
      ++p_;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') return fail("bad number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') return fail("bad number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    size_t n = static_cast<size_t>(p_ - start);
    if (n > 63) return fail("number too long");
    char buf[64];
    std::memcpy(buf, start, n);
    buf[n] = '\0';
    out.type_ = JsonValue::Type::Number;
    out.number_ = std::strtod(buf, nullptr);
    if (!std::isfinite(out.number_)) return fail("number out of range");
    if (integer) {
      errno = 0;
      long long v = std::strtoll(buf, nullptr, 10);
      if (errno == 0) {
        out.integer_literal_ = true;
        out.int_ = static_cast<int64_t>(v);
      }
    }
    return true;
  }

  const char* p_;
  const char* begin_;
  const char* end_;
  JsonLimits limits_;
  char reason_[48] = {0};
};

bool json_parse(const char* data, size_t len, JsonValue& out, std::string* error, JsonLimits limits) {
  out = JsonValue();
  JsonParser parser(data, len, limits);
  return parser.parse(out, error);
}

}  // namespace gp
