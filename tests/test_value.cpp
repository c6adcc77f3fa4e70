// moodnet::Value: the JSON value of layer configs, metadata and model-file headers. Its text form
// is checked against nlohmann::json both ways (an independent, well-tested parser and writer).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <moodnet/io/json.hpp>
#include <moodnet/moodnet.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using moodnet::Value;

TEST_CASE("value: construction, kinds and typed access", "[value]") {
  const Value cfg = {{"filters", 32},
                     {"padding", "same"},
                     {"use_bias", true},
                     {"l2", 1e-4},
                     {"kernel_size", Value::array({3, 5})},
                     {"names", std::vector<std::string>{"happy", "sad"}}};
  CHECK(cfg.is_object());
  CHECK(cfg.size() == 6);
  CHECK(cfg.at("filters").get<int64_t>() == 32);
  CHECK(cfg.at("filters").get<int>() == 32);
  CHECK(cfg.at("filters").get<double>() == 32.0);
  CHECK(cfg.at("padding").get<std::string>() == "same");
  CHECK(cfg.at("use_bias").get<bool>());
  CHECK(cfg.at("l2").get<double>() == 1e-4);
  CHECK(cfg.at("kernel_size").get<std::vector<int64_t>>() == std::vector<int64_t>{3, 5});
  CHECK(cfg["names"].get<std::vector<std::string>>() == std::vector<std::string>{"happy", "sad"});
  CHECK(cfg.value("l2", 0.0) == 1e-4);
  CHECK(cfg.value("missing", 0.5) == 0.5);
  CHECK(cfg.value("missing", "fallback") == "fallback");
  CHECK(cfg.contains("padding"));
  CHECK_FALSE(cfg.contains("strides"));
  CHECK_FALSE(Value(3).contains("x"));

  Value m;  // null becomes an object on first key, an array on first push_back
  CHECK(m.is_null());
  m["b"] = 1;
  m["a"] = Value::array({Value::array({"conv2d"}), Value::array({"pool"})});
  CHECK(m.is_object());
  CHECK(m.dump() == R"({"a":[["conv2d"],["pool"]],"b":1})");  // keys sorted
  CHECK(m["a"].get<std::vector<std::vector<std::string>>>()[1][0] == "pool");
  m.update({{"b", 2}, {"c", nullptr}});
  CHECK(m.dump() == R"({"a":[["conv2d"],["pool"]],"b":2,"c":null})");
  Value a;
  a.push_back(1);
  a.push_back("x");
  CHECK(a.is_array());
  CHECK(a.size() == 2);
  CHECK(a.at(size_t(1)).get<std::string>() == "x");
}

TEST_CASE("value: wrong kinds, ranges and keys give errors that name them", "[value]") {
  const Value cfg = {{"filters", 32}, {"padding", "same"}, {"big", uint64_t(1) << 40}};
  REQUIRE_THROWS_WITH(cfg.at("stride"), Catch::Contains("missing key 'stride'"));
  REQUIRE_THROWS_WITH(cfg.at("padding").get<int64_t>(),
                      Catch::Contains("expected an integer, got string"));
  REQUIRE_THROWS_WITH(cfg.at("filters").get<std::string>(),
                      Catch::Contains("expected a string, got integer"));
  REQUIRE_THROWS_WITH(cfg.at("big").get<int32_t>(), Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(Value(-1).get<uint64_t>(), Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(Value(2.5).get<int>(), Catch::Contains("expected an integer, got 2.5"));
  CHECK(Value(3.0).get<int>() == 3);  // an integral real is an integer
  REQUIRE_THROWS_WITH(cfg.value("padding", 0.0), Catch::Contains("key 'padding'"));
  REQUIRE_THROWS_WITH(Value(1).at(size_t(0)), Catch::Contains("expected an array, got integer"));
  REQUIRE_THROWS_WITH(Value::array({1}).at(size_t(1)), Catch::Contains("out of range"));
}

TEST_CASE("value: equality follows JSON numbers", "[value]") {
  CHECK(Value(1) == Value(uint64_t(1)));
  CHECK(Value(1) == Value(1.0));
  CHECK_FALSE(Value(1) == Value(-1));
  CHECK_FALSE(Value(-1) == Value(std::numeric_limits<uint64_t>::max()));
  CHECK_FALSE(Value(1) == Value("1"));
  CHECK_FALSE(Value(true) == Value(1));
  CHECK(Value({{"a", 1}, {"b", 2}}) == Value({{"b", 2}, {"a", 1}}));
  CHECK_FALSE(Value({{"a", 1}}) == Value({{"a", 2}}));
  CHECK(Value() == Value(nullptr));
}

TEST_CASE("value: JSON text round trips, and agrees with nlohmann::json", "[value]") {
  const std::vector<std::string> texts = {
      R"({"a":1,"b":-2,"c":2.5,"d":"x\"y\\z\n\t\u0001","e":[true,false,null],"f":{}})",
      R"([1.0e-7,1e21,-0.0,123456789012345678,18446744073709551615,-9223372036854775808])",
      R"("caf\u00e9 \ud83d\ude00 \/")",
      R"({"nested":[[[[{"k":[0.1,0.2,0.30000000000000004]}]]]]})",
      " \n\t[ 1 , 2 ]\r\n  ",
      "0.1",
      "1e400000000000000000"};  // too large for a double: both refuse
  for (const std::string& text : texts) {
    INFO(text);
    bool nlohmann_ok = true;
    nlohmann::json n;
    try {
      n = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
      nlohmann_ok = false;
    }
    if (!nlohmann_ok) {
      REQUIRE_THROWS_AS(Value::parse(text), moodnet::Error);
      continue;
    }
    const Value v = Value::parse(text);
    CHECK(n.get<Value>() == v);                          // same tree as nlohmann reads
    CHECK(nlohmann::json::parse(v.dump()) == n);         // our text reads back in nlohmann
    CHECK(Value::parse(v.dump()) == v);                  // and in ours
    CHECK(Value::parse(nlohmann::json(v).dump()) == v);  // nlohmann's text reads in ours
  }
  // Reals keep every bit and stay reals; integers stay integers.
  for (double x : {0.1, 1.0 / 3, 1e-300, 6.02214076e23, -0.0, 100.0, 5e-324}) {
    const Value back = Value::parse(Value(x).dump());
    CHECK(back.kind() == Value::Kind::real);
    CHECK(std::signbit(back.get<double>()) == std::signbit(x));
    CHECK(back.get<double>() == x);
  }
  CHECK(Value(100.0).dump() == "100.0");
  CHECK(Value(int64_t(-7)).dump() == "-7");
  CHECK(Value(std::numeric_limits<double>::quiet_NaN()).dump() == "null");  // as nlohmann::json
}

TEST_CASE("value: malformed JSON gives an error naming the byte", "[value]") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "expected a value at byte 0"},
      {"{", "expected a string key at byte 1"},
      {R"({"a" 1})", "expected ':' at byte 5"},
      {R"({"a":1,})", "expected a string key at byte 7"},
      {"[1,2", "expected ',' or ']' at byte 4"},
      {"[1 2]", "expected ',' or ']' at byte 3"},
      {"01", "no leading zero"},
      {"1.", "a digit after '.'"},
      {"-", "expected a digit"},
      {"1e", "a digit in the exponent"},
      {"tru", "expected a value"},
      {R"("abc)", "to close the string"},
      {"\"a\nb\"", "no control character"},
      {R"("\x")", "an escape sequence"},
      {R"("\u12G4")", "4 hex digits"},
      {R"("\ud800")", "second half of a surrogate pair"},
      {R"("\udc00")", "a high surrogate"},
      {R"({"a":1,"a":2})", "key 'a' appears twice"},
      {"[] x", "expected end of input at byte 3"},
      {std::string(300, '[') + std::string(300, ']'), "at most 256 levels of nesting"},
  };
  for (const auto& [text, message] : bad) {
    INFO(text);
    REQUIRE_THROWS_WITH(Value::parse(text), Catch::Contains(message));
    // nlohmann::json rejects the same texts, except the two rules moodnet adds: unique keys (a
    // model file's header never repeats one) and a nesting limit (no stack overflow on a
    // crafted file).
    const bool moodnet_rule =
        message.find("twice") != std::string::npos || message.find("nesting") != std::string::npos;
    if (!moodnet_rule) CHECK_THROWS_AS(nlohmann::json::parse(text), nlohmann::json::exception);
  }
}

TEST_CASE("value: nlohmann::json converts both ways without loss", "[value]") {
  const nlohmann::json n = {{"u", 18446744073709551615ULL},
                            {"i", -3},
                            {"r", 0.25},
                            {"s", "t"},
                            {"a", {1, "two", nullptr, false}},
                            {"o", {{"k", {{"deep", 1.5}}}}}};
  const Value v = n.get<Value>();
  CHECK(v.at("u").get<uint64_t>() == 18446744073709551615ULL);
  CHECK(v.at("i").kind() == Value::Kind::integer);
  CHECK(v.at("r").kind() == Value::Kind::real);
  CHECK(v["o"]["k"]["deep"].get<double>() == 1.5);
  CHECK(nlohmann::json(v) == n);
  CHECK(v.dump() == n.dump());  // same canonical text: sorted keys, same number forms
}
