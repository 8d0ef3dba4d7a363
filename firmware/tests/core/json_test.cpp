#include <gtest/gtest.h>

#include "gp/json.h"

using gp::JsonValue;

TEST(JsonWriter, WritesCompactJsonWithCommas) {
  std::string out;
  gp::JsonWriter w(out);
  w.begin_object().key("a").value(int64_t{1}).key("b").begin_array().value("x").null().value(true).end_array();
  w.key("c").begin_object().end_object().end_object();
  EXPECT_EQ(out, R"({"a":1,"b":["x",null,true],"c":{}})");
}

TEST(JsonWriter, EscapesStrings) {
  std::string out;
  gp::json_escape(out, "a\"b\\c\n\x01", 7);
  EXPECT_EQ(out, R"("a\"b\\c\n\u0001")");
}

TEST(JsonWriter, FixedPointIsExactAndTrimmed) {
  auto fixed = [](int64_t v, int d) {
    std::string s;
    gp::append_fixed(s, v, d);
    return s;
  };
  EXPECT_EQ(fixed(2301, 1), "230.1");
  EXPECT_EQ(fixed(2300, 1), "230.0");
  EXPECT_EQ(fixed(1200, 3), "1.2");
  EXPECT_EQ(fixed(1234567, 3), "1234.567");
  EXPECT_EQ(fixed(0, 3), "0.0");
  EXPECT_EQ(fixed(-5, 1), "-0.5");
  EXPECT_EQ(fixed(-100, 2), "-1.0");
  EXPECT_EQ(fixed(7, 3), "0.007");
  EXPECT_EQ(fixed(INT64_MIN, 3), "-9223372036854775.808");
}

TEST(JsonParser, ParsesNestedDocuments) {
  JsonValue v;
  std::string err;
  ASSERT_TRUE(gp::json_parse(R"( {"state":{"batch_size":20,"wifi":{"ssid":"x"}},"version":7,"ok":true,"n":null,
      "list":[1,2.5,-3e2],"s":"\u00e9\ud83d\ude00\/"} )", v, &err)) << err;
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.get("version")->as_int(), 7);
  EXPECT_TRUE(v.get("ok")->as_bool());
  EXPECT_TRUE(v.get("n")->is_null());
  EXPECT_EQ(v.get("state")->get("wifi")->get("ssid")->as_string(), "x");
  EXPECT_EQ(v.get("list")->items().size(), 3u);
  EXPECT_DOUBLE_EQ(v.get("list")->items()[2].as_number(), -300.0);
  EXPECT_FALSE(v.get("list")->items()[1].is_integer_literal());
  EXPECT_EQ(v.get("s")->as_string(), "\xc3\xa9\xf0\x9f\x98\x80/");
  EXPECT_EQ(v.get("missing"), nullptr);
}

TEST(JsonParser, IntegralAcceptsWholeDecimals) {
  JsonValue v;
  int64_t out = 0;
  ASSERT_TRUE(gp::json_parse("50.0", v));
  EXPECT_TRUE(v.get_integral(out));
  EXPECT_EQ(out, 50);
  ASSERT_TRUE(gp::json_parse("50.5", v));
  EXPECT_FALSE(v.get_integral(out));
  ASSERT_TRUE(gp::json_parse("\"50\"", v));
  EXPECT_FALSE(v.get_integral(out));
}

TEST(JsonParser, RefusesMalformedInput) {
  const char* bad[] = {"",          "{",          "{\"a\":}",   "{\"a\" 1}", "[1,]",      "{\"a\":1,}",
                       "01",        "1.",         "-",          "tru",       "\"abc",     "\"\\x\"",
                       "\"\\ud800\"", "{} {}",    "{'a':1}",    "[1 2]",     "\"a\nb\"",  "NaN",
                       "1e999",     "{\"a\":1"};
  for (const char* text : bad) {
    JsonValue v;
    std::string err;
    EXPECT_FALSE(gp::json_parse(text, v, &err)) << "accepted: " << text;
    EXPECT_FALSE(err.empty());
  }
}

TEST(JsonParser, EnforcesDepthAndSizeLimits) {
  JsonValue v;
  std::string deep(20, '[');
  deep += std::string(20, ']');
  EXPECT_FALSE(gp::json_parse(deep, v, nullptr, gp::JsonLimits{1024, 12}));
  EXPECT_TRUE(gp::json_parse(deep, v, nullptr, gp::JsonLimits{1024, 32}));
  std::string big = "\"" + std::string(2000, 'x') + "\"";
  std::string err;
  EXPECT_FALSE(gp::json_parse(big, v, &err, gp::JsonLimits{1024, 4}));
  EXPECT_NE(err.find("too large"), std::string::npos);
}

TEST(JsonEqual, IgnoresMemberOrder) {
  JsonValue a, b, c;
  ASSERT_TRUE(gp::json_parse(R"({"x":1,"y":[1,2]})", a));
  ASSERT_TRUE(gp::json_parse(R"({"y":[1,2],"x":1.0})", b));
  ASSERT_TRUE(gp::json_parse(R"({"y":[2,1],"x":1})", c));
  EXPECT_TRUE(gp::json_equal(a, b));
  EXPECT_FALSE(gp::json_equal(a, c));
}
