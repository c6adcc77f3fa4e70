// Reads TensorFlow.js weights: a manifest (model.json's "weightsManifest", or a bare
// *-weights_manifest.json array of groups) and the .bin shards it names. Each group's shards are
// concatenated in manifest order and its weights decoded one after another, as tfjs does
// (tfjs-core io_utils decodeWeights):
//   float32, int32 (little-endian) and bool as stored;
//   quantization {dtype: uint8|uint16, min, scale}: v * scale + min (in double, then rounded to
//     float; int32 weights are then rounded half up like Math.round);
//   quantization {dtype: float16}, or a bare dtype float16: IEEE half precision.
// Every weight comes back as float32 values in TensorFlow's row-major order (for conv kernels
// [KH, KW, C_in, F], depthwise [KH, KW, C, M]: the layouts moodnet's layers use).
// A tool header: not included by <moodnet/moodnet.hpp>.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../config.hpp"
#include "../core/shape.hpp"

namespace moodnet::tfjs {

struct Weight {
  std::string name;
  Shape shape;
  std::string dtype;      // the manifest's dtype: float32, int32 or bool
  std::string stored_as;  // what the shard holds: float32, int32, bool, uint8, uint16, float16
  std::vector<float> values;
};

class Weights {
 public:
  Weights() = default;
  Weights(std::filesystem::path manifest, std::vector<Weight> weights)
      : manifest_(std::move(manifest)), weights_(std::move(weights)) {}

  const std::filesystem::path& manifest() const { return manifest_; }
  const std::vector<Weight>& all() const { return weights_; }
  size_t size() const { return weights_.size(); }

  const Weight* find(const std::string& name) const {
    for (const Weight& w : weights_)
      if (w.name == name) return &w;
    return nullptr;
  }
  bool contains(const std::string& name) const { return find(name) != nullptr; }

  // The weight called `name`; throws moodnet::Error naming the manifest when there is none.
  const Weight& at(const std::string& name) const {
    const Weight* w = find(name);
    MOODNET_CHECK(w != nullptr, "tfjs: ", manifest_.string(), " has no tensor '", name, "' (",
                  weights_.size(), " tensors)");
    return *w;
  }
  // As at(name), and checks the shape.
  const Weight& at(const std::string& name, const Shape& expected) const {
    const Weight& w = at(name);
    MOODNET_CHECK(w.shape == expected, "tfjs: ", manifest_.string(), ": tensor '", name,
                  "' has shape ", w.shape.to_string(), ", expected ", expected.to_string());
    return w;
  }

 private:
  std::filesystem::path manifest_;
  std::vector<Weight> weights_;
};

namespace detail {

inline std::vector<unsigned char> read_bytes(const std::filesystem::path& p,
                                             const std::string& what) {
  std::error_code ec;
  MOODNET_CHECK(std::filesystem::is_regular_file(p, ec), "tfjs: ", what, " ", p.string(),
                " is missing");
  std::ifstream f(p, std::ios::binary);
  MOODNET_CHECK(f.good(), "tfjs: cannot open ", what, " ", p.string());
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(f)),
                                   std::istreambuf_iterator<char>());
  MOODNET_CHECK(!f.bad(), "tfjs: error reading ", what, " ", p.string());
  return bytes;
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;  // +-0
  } else {        // subnormal half: normalise
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline uint32_t load_le(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// tfjs computes v * scale + min in double (no fused multiply-add); `volatile` keeps the compiler
// from contracting it into an FMA on targets that have one.
inline double affine(uint32_t q, double scale, double min) {
  volatile double product = static_cast<double>(q) * scale;
  return product + min;
}

inline Shape parse_shape(const nlohmann::json& s, const std::string& where) {
  MOODNET_CHECK(s.is_array(), where, ": 'shape' must be an array");
  MOODNET_CHECK(s.size() <= static_cast<size_t>(Shape::max_rank), where, ": rank ", s.size(),
                " exceeds ", Shape::max_rank);
  Shape shape;
  int64_t elements = 1;
  for (const auto& d : s) {
    MOODNET_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, where,
                  ": 'shape' must hold non-negative integers, got ", d.dump());
    const int64_t n = d.get<int64_t>();
    // No real weight comes near 2^40 values; the bound keeps the size arithmetic from overflowing.
    MOODNET_CHECK(n == 0 || elements <= (int64_t{1} << 40) / n, where, ": shape ", s.dump(),
                  " is too large");
    elements *= n;
    shape.push_back(n);
  }
  return shape;
}

// Decodes one weight from `bytes` (the group's shards) at `offset`; advances offset.
inline Weight decode(const nlohmann::json& spec, const std::vector<unsigned char>& bytes,
                     size_t& offset, const std::string& where, const std::string& shard_names) {
  MOODNET_CHECK(spec.is_object() && spec.contains("name") && spec["name"].is_string(), where,
                ": every weight needs a string 'name'");
  Weight w;
  w.name = spec["name"].get<std::string>();
  const std::string at = where + ": tensor '" + w.name + "'";
  MOODNET_CHECK(spec.contains("shape"), at, " has no 'shape'");
  MOODNET_CHECK(spec.contains("dtype") && spec["dtype"].is_string(), at, " has no string 'dtype'");
  w.shape = parse_shape(spec["shape"], at);
  w.dtype = spec["dtype"].get<std::string>();
  w.stored_as = w.dtype;
  double scale = 1, min = 0;
  if (spec.contains("quantization")) {
    const auto& q = spec["quantization"];
    MOODNET_CHECK(q.is_object() && q.contains("dtype") && q["dtype"].is_string(), at,
                  ": 'quantization' needs a string 'dtype'");
    w.stored_as = q["dtype"].get<std::string>();
    if (w.stored_as == "uint8" || w.stored_as == "uint16") {
      MOODNET_CHECK(q.contains("min") && q["min"].is_number() && q.contains("scale") &&
                        q["scale"].is_number(),
                    at, ": ", w.stored_as, " quantization needs numbers 'min' and 'scale'");
      MOODNET_CHECK(w.dtype == "float32" || w.dtype == "int32", at, ": ", w.stored_as,
                    " quantization of dtype '", w.dtype, "' is not supported");
      min = q["min"].get<double>();
      scale = q["scale"].get<double>();
    } else {
      MOODNET_CHECK(w.stored_as == "float16", at, ": unknown quantization dtype '", w.stored_as,
                    "' (expected uint8, uint16 or float16)");
      MOODNET_CHECK(w.dtype == "float32", at, ": float16 quantization needs dtype float32, got '",
                    w.dtype, "'");
    }
  } else if (w.dtype == "float16") {
    w.dtype = "float32";  // a bare float16 dtype: half-precision values, read as float32
  }
  int width = 0;
  if (w.stored_as == "float32" || w.stored_as == "int32")
    width = 4;
  else if (w.stored_as == "uint16" || w.stored_as == "float16")
    width = 2;
  else if (w.stored_as == "uint8" || w.stored_as == "bool")
    width = 1;
  MOODNET_CHECK(width > 0, at, ": unsupported dtype '", w.stored_as,
                "' (supported: float32, float16, int32, bool, and uint8/uint16 quantization)");
  const auto n = static_cast<size_t>(w.shape.num_elements());
  const size_t len = n * static_cast<size_t>(width);
  MOODNET_CHECK(offset + len <= bytes.size(), at, " needs bytes [", offset, ", ", offset + len,
                ") but the shard data (", shard_names, ") holds only ", bytes.size(),
                " bytes: short or truncated shard");
  w.values.resize(n);
  const unsigned char* p = bytes.data() + offset;
  const bool quantized = w.stored_as == "uint8" || w.stored_as == "uint16";
  for (size_t i = 0; i < n; ++i, p += width) {
    const uint32_t raw = load_le(p, width);
    float v;
    if (quantized) {
      const double d = affine(raw, scale, min);
      v = static_cast<float>(w.dtype == "int32" ? std::floor(d + 0.5) : d);
    } else if (w.stored_as == "float32") {
      std::memcpy(&v, &raw, sizeof v);
    } else if (w.stored_as == "int32") {
      v = static_cast<float>(static_cast<int32_t>(raw));
    } else if (w.stored_as == "float16") {
      v = half_to_float(static_cast<uint16_t>(raw));
    } else {  // bool
      v = raw ? 1.0f : 0.0f;
    }
    w.values[i] = v;
  }
  offset += len;
  return w;
}

}  // namespace detail

// Reads every weight that `manifest_path` lists (model.json or *-weights_manifest.json); shard
// paths are relative to its directory. Throws moodnet::Error naming the file and the tensor for
// a missing or short shard, bad JSON, an unknown dtype or a duplicate name.
inline Weights read_weights(const std::filesystem::path& manifest_path) {
  const std::string where = manifest_path.string();
  const std::vector<unsigned char> text = detail::read_bytes(manifest_path, "manifest");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    MOODNET_FAIL("tfjs: ", where, " is not valid JSON: ", e.what());
  }
  const nlohmann::json* groups = &j;
  if (j.is_object()) {
    MOODNET_CHECK(j.contains("weightsManifest"), "tfjs: ", where,
                  " has no 'weightsManifest' (expected a model.json or a weights manifest array)");
    groups = &j["weightsManifest"];
  }
  MOODNET_CHECK(groups->is_array(), "tfjs: ", where,
                ": the weights manifest must be an array of {paths, weights} groups");
  const std::filesystem::path dir = manifest_path.parent_path();
  std::vector<Weight> out;
  for (size_t g = 0; g < groups->size(); ++g) {
    const auto& group = (*groups)[g];
    const std::string gwhere = "tfjs: " + where + " (group " + std::to_string(g) + ")";
    MOODNET_CHECK(group.is_object() && group.contains("paths") && group["paths"].is_array() &&
                      group.contains("weights") && group["weights"].is_array(),
                  gwhere, ": a group needs arrays 'paths' and 'weights'");
    std::vector<unsigned char> bytes;
    std::string shard_names;
    for (const auto& path : group["paths"]) {
      MOODNET_CHECK(path.is_string(), gwhere, ": shard paths must be strings");
      const std::filesystem::path shard = dir / path.get<std::string>();
      std::vector<unsigned char> b = detail::read_bytes(shard, "weight shard");
      bytes.insert(bytes.end(), b.begin(), b.end());
      shard_names += (shard_names.empty() ? "" : ", ") + shard.string();
    }
    size_t offset = 0;
    for (const auto& spec : group["weights"]) {
      Weight w = detail::decode(spec, bytes, offset, gwhere, shard_names);
      for (const Weight& o : out)
        MOODNET_CHECK(o.name != w.name, gwhere, ": tensor '", w.name, "' appears twice");
      out.push_back(std::move(w));
    }
  }
  return Weights(manifest_path, std::move(out));
}

}  // namespace moodnet::tfjs
