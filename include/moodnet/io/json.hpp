// moodnet::Value <-> nlohmann::json, for programs that use nlohmann::json (the CLI, reports,
// tools):
//
//   nlohmann::json j = model.metadata();           // via moodnet::to_json (found by ADL)
//   model.metadata()["run"] = j.get<moodnet::Value>();
//
// Kept out of <moodnet/moodnet.hpp> on purpose: nlohmann/json.hpp costs every translation unit
// that includes it about as much as the rest of moodnet's headers.
#pragma once

#include <nlohmann/json.hpp>

#include "../core/value.hpp"

namespace moodnet {

inline void to_json(nlohmann::json& j, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null:
      j = nullptr;
      break;
    case Value::Kind::boolean:
      j = v.get<bool>();
      break;
    case Value::Kind::integer:
      j = v.get<int64_t>();
      break;
    case Value::Kind::unsigned_integer:
      j = v.get<uint64_t>();
      break;
    case Value::Kind::real:
      j = v.get<double>();
      break;
    case Value::Kind::string:
      j = v.as_string();
      break;
    case Value::Kind::array:
      j = nlohmann::json::array();
      for (const Value& x : v.as_array()) j.push_back(x);
      break;
    case Value::Kind::object:
      j = nlohmann::json::object();
      for (const auto& [key, x] : v.as_object()) j[key] = x;
      break;
  }
}

inline void from_json(const nlohmann::json& j, Value& v) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      v = Value();
      break;
    case nlohmann::json::value_t::boolean:
      v = j.get<bool>();
      break;
    case nlohmann::json::value_t::number_integer:
      v = j.get<int64_t>();
      break;
    case nlohmann::json::value_t::number_unsigned:
      v = j.get<uint64_t>();
      break;
    case nlohmann::json::value_t::number_float:
      v = j.get<double>();
      break;
    case nlohmann::json::value_t::string:
      v = j.get<std::string>();
      break;
    case nlohmann::json::value_t::binary:
      MOODNET_FAIL("JSON binary values have no moodnet::Value equivalent");
    case nlohmann::json::value_t::array:
      v = Value::array();
      for (const auto& x : j) v.push_back(x.get<Value>());
      break;
    case nlohmann::json::value_t::object:
      v = Value::object();
      for (const auto& [key, x] : j.items()) v[key] = x.get<Value>();
      break;
  }
}

}  // namespace moodnet
