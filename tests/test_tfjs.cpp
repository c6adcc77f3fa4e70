// TF.js weight import (io/tfjs.hpp) on small generated manifests and shards: every dtype, affine
// dequantisation, shard concatenation, and a clear error for each kind of broken input. Then the
// pretrained MobileNetV1 backbone (zoo_pretrained.hpp) against reference outputs computed by the
// original JavaScript framework (tools/tfjs_reference, committed under tests/data/tfjs/).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <moodnet/io/tfjs.hpp>
#include <moodnet/moodnet.hpp>
#include <moodnet/zoo_pretrained.hpp>
#include <string>
#include <vector>

#include "temp_dir.hpp"

using namespace moodnet;
namespace fs = std::filesystem;
using moodnet::test::TempDir;

namespace {

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}
void write_bytes(const fs::path& p, const std::vector<unsigned char>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
template <class T>
void put(std::vector<unsigned char>& b, T v) {
  const size_t at = b.size();
  b.resize(at + sizeof(T));
  std::memcpy(b.data() + at, &v, sizeof(T));  // the test machine is little-endian, as the format
}

// The error message of f(), or "" when it does not throw moodnet::Error.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A two-tensor manifest (float32 "a" [2, 3], int32 "b" [2]) and its shard, in `dir`.
fs::path small_manifest(const TempDir& dir) {
  std::vector<unsigned char> b;
  for (int i = 0; i < 6; ++i) put<float>(b, 0.5f * static_cast<float>(i) - 1.0f);
  put<int32_t>(b, -7);
  put<int32_t>(b, 123456);
  write_bytes(dir / "w.bin", b);
  write_text(dir / "m.json", R"([{"paths": ["w.bin"], "weights": [
      {"name": "a", "shape": [2, 3], "dtype": "float32"},
      {"name": "b", "shape": [2], "dtype": "int32"}]}])");
  return dir / "m.json";
}

}  // namespace

TEST_CASE("tfjs: float32 and int32 weights, names and shapes", "[tfjs][io]") {
  TempDir dir("moodnet_tfjs");
  const tfjs::Weights w = tfjs::read_weights(small_manifest(dir));
  REQUIRE(w.size() == 2);
  const tfjs::Weight& a = w.at("a", {2, 3});
  CHECK(a.dtype == "float32");
  CHECK(a.values == std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f});
  const tfjs::Weight& b = w.at("b");
  CHECK(b.shape == Shape{2});
  CHECK(b.stored_as == "int32");
  CHECK(b.values == std::vector<float>{-7.0f, 123456.0f});
  CHECK(w.contains("a"));
  CHECK_FALSE(w.contains("c"));
  CHECK(w.all()[0].name == "a");  // manifest order
}

TEST_CASE("tfjs: uint8/uint16 affine dequantisation as tfjs computes it", "[tfjs][io]") {
  TempDir dir("moodnet_tfjs");
  std::vector<unsigned char> b;
  for (unsigned v : {0u, 1u, 128u, 255u}) b.push_back(static_cast<unsigned char>(v));
  for (unsigned v : {0u, 1u, 40000u, 65535u}) put<uint16_t>(b, static_cast<uint16_t>(v));
  for (unsigned v : {0u, 1u, 2u, 3u}) b.push_back(static_cast<unsigned char>(v));  // int32 q
  b.push_back(200);                                                                // scalar
  write_bytes(dir / "q.bin", b);
  write_text(dir / "q.json", R"([{"paths": ["q.bin"], "weights": [
      {"name": "u8", "shape": [2, 2], "dtype": "float32",
       "quantization": {"dtype": "uint8", "min": -0.3216, "scale": 0.0019850000000000002}},
      {"name": "u16", "shape": [4], "dtype": "float32",
       "quantization": {"dtype": "uint16", "min": -2.5, "scale": 7.62939453125e-05}},
      {"name": "i", "shape": [4], "dtype": "int32",
       "quantization": {"dtype": "uint8", "min": -1, "scale": 0.5}},
      {"name": "s", "shape": [], "dtype": "float32",
       "quantization": {"dtype": "uint8", "min": 0.007843, "scale": 1}}]}])");
  const tfjs::Weights w = tfjs::read_weights(dir / "q.json");
  const auto& u8 = w.at("u8", {2, 2});
  CHECK(u8.stored_as == "uint8");
  for (int k = 0; k < 4; ++k) {
    const double q[] = {0, 1, 128, 255};
    // float32(v * scale + min) with the product and the sum in double, as in JavaScript.
    CHECK(u8.values[size_t(k)] == static_cast<float>(q[k] * 0.0019850000000000002 + -0.3216));
  }
  const auto& u16 = w.at("u16", {4});
  CHECK(u16.values[0] == -2.5f);
  CHECK(u16.values[2] == static_cast<float>(40000 * 7.62939453125e-05 - 2.5));
  CHECK(u16.values[3] == static_cast<float>(65535 * 7.62939453125e-05 - 2.5));
  // int32 weights: Math.round(q * 0.5 - 1) = round half up: -1, -0.5 -> -0, 0, 0.5 -> 1.
  CHECK(w.at("i").values == std::vector<float>{-1.0f, 0.0f, 0.0f, 1.0f});
  CHECK(w.at("s", Shape{}).values == std::vector<float>{static_cast<float>(200 + 0.007843)});
}

TEST_CASE("tfjs: float16, as quantization (tfjs) and as a bare dtype", "[tfjs][io]") {
  TempDir dir("moodnet_tfjs");
  std::vector<unsigned char> b;
  // 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), -0, +inf, 2^-14 (smallest normal)
  const uint16_t h[] = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x0400};
  for (uint16_t v : h) put<uint16_t>(b, v);
  put<uint16_t>(b, 0x3555);  // 0.333251953125
  write_bytes(dir / "h.bin", b);
  write_text(dir / "h.json", R"({"format": "graph-model", "weightsManifest": [{"paths": ["h.bin"],
      "weights": [{"name": "q", "shape": [8], "dtype": "float32",
                   "quantization": {"dtype": "float16"}},
                  {"name": "bare", "shape": [1], "dtype": "float16"}]}]})");
  const tfjs::Weights w = tfjs::read_weights(dir / "h.json");
  const std::vector<float>& q = w.at("q").values;
  CHECK(q[0] == 1.0f);
  CHECK(q[1] == -2.0f);
  CHECK(q[2] == 0.5f);
  CHECK(q[3] == 65504.0f);
  CHECK(q[4] == std::ldexp(1.0f, -24));
  CHECK((q[5] == 0.0f && std::signbit(q[5])));
  CHECK(std::isinf(q[6]));
  CHECK(q[7] == std::ldexp(1.0f, -14));
  CHECK(w.at("bare").values[0] == 0.333251953125f);
  CHECK(w.at("bare").dtype == "float32");
  CHECK(w.at("bare").stored_as == "float16");
}

TEST_CASE("tfjs: shards concatenated in manifest order, groups decoded apart", "[tfjs][io]") {
  TempDir dir("moodnet_tfjs");
  std::vector<unsigned char> all;
  for (int i = 0; i < 5; ++i) put<float>(all, float(i) + 0.25f);
  // Group 0: "x" [5] split across two shards mid-value (bytes 0..6 and 7..19).
  write_bytes(dir / "g0-shard1of2.bin", {all.begin(), all.begin() + 7});
  write_bytes(dir / "g0-shard2of2.bin", {all.begin() + 7, all.end()});
  std::vector<unsigned char> g1;
  put<float>(g1, 42.0f);
  write_bytes(dir / "g1.bin", g1);
  write_text(dir / "model.json", R"({"weightsManifest": [
      {"paths": ["g0-shard1of2.bin", "g0-shard2of2.bin"],
       "weights": [{"name": "x", "shape": [5], "dtype": "float32"}]},
      {"paths": ["g1.bin"], "weights": [{"name": "y", "shape": [1, 1], "dtype": "float32"}]}]})");
  const tfjs::Weights w = tfjs::read_weights(dir / "model.json");
  CHECK(w.at("x").values == std::vector<float>{0.25f, 1.25f, 2.25f, 3.25f, 4.25f});
  CHECK(w.at("y", {1, 1}).values == std::vector<float>{42.0f});
}

TEST_CASE("tfjs: clear errors naming the file and the tensor", "[tfjs][io]") {
  TempDir dir("moodnet_tfjs");
  const fs::path m = small_manifest(dir);
  const std::string file = m.string();

  SECTION("missing tensor") {
    const tfjs::Weights w = tfjs::read_weights(m);
    const std::string e = error_of([&] { (void)w.at("MobilenetV1/nope"); });
    CHECK_THAT(e, Catch::Contains("no tensor 'MobilenetV1/nope'") && Catch::Contains(file));
  }
  SECTION("shape mismatch") {
    const tfjs::Weights w = tfjs::read_weights(m);
    const std::string e = error_of([&] { (void)w.at("a", {3, 2}); });
    CHECK_THAT(e,
               Catch::Contains("'a' has shape (2, 3), expected (3, 2)") && Catch::Contains(file));
  }
  SECTION("missing manifest") {
    const std::string e = error_of([&] { tfjs::read_weights(dir / "absent.json"); });
    CHECK_THAT(e, Catch::Contains("manifest") && Catch::Contains("absent.json") &&
                      Catch::Contains("missing"));
  }
  SECTION("missing shard") {
    fs::remove(dir / "w.bin");
    const std::string e = error_of([&] { tfjs::read_weights(m); });
    CHECK_THAT(e, Catch::Contains("weight shard") && Catch::Contains("w.bin") &&
                      Catch::Contains("missing"));
  }
  SECTION("short shard") {
    fs::resize_file(dir / "w.bin", 26);  // "b" needs bytes [24, 32)
    const std::string e = error_of([&] { tfjs::read_weights(m); });
    CHECK_THAT(e, Catch::Contains("tensor 'b'") && Catch::Contains("[24, 32)") &&
                      Catch::Contains("26 bytes") && Catch::Contains("w.bin") &&
                      Catch::Contains(file));
  }
  SECTION("bad JSON") {
    write_text(m, R"([{"paths": ["w.bin"], "weights": [)");
    const std::string e = error_of([&] { tfjs::read_weights(m); });
    CHECK_THAT(e, Catch::Contains("not valid JSON") && Catch::Contains(file));
  }
  SECTION("JSON of the wrong form") {
    write_text(m, R"({"modelTopology": {}})");
    CHECK_THAT(error_of([&] { tfjs::read_weights(m); }), Catch::Contains("no 'weightsManifest'"));
    write_text(m, R"([{"paths": "w.bin", "weights": []}])");
    CHECK_THAT(error_of([&] { tfjs::read_weights(m); }),
               Catch::Contains("arrays 'paths' and 'weights'"));
    write_text(m, R"([{"paths": ["w.bin"], "weights": [{"name": "a", "dtype": "float32"}]}])");
    CHECK_THAT(error_of([&] { tfjs::read_weights(m); }),
               Catch::Contains("tensor 'a' has no 'shape'"));
    write_text(m, R"([{"paths": ["w.bin"], "weights": [
        {"name": "a", "shape": [2, -3], "dtype": "float32"}]}])");
    CHECK_THAT(error_of([&] { tfjs::read_weights(m); }), Catch::Contains("non-negative integers"));
    write_text(m, R"([{"paths": ["w.bin"], "weights": [
        {"name": "a", "shape": [4294967296, 4294967296, 16], "dtype": "float32"}]}])");
    CHECK_THAT(error_of([&] { tfjs::read_weights(m); }), Catch::Contains("is too large"));
  }
  SECTION("unknown dtype") {
    write_text(m, R"([{"paths": ["w.bin"], "weights": [
        {"name": "a", "shape": [2, 3], "dtype": "float32"},
        {"name": "s", "shape": [1], "dtype": "string"}]}])");
    const std::string e = error_of([&] { tfjs::read_weights(m); });
    CHECK_THAT(e, Catch::Contains("tensor 's'") && Catch::Contains("unsupported dtype 'string'") &&
                      Catch::Contains(file));
  }
  SECTION("unknown quantization, missing min/scale") {
    write_text(m, R"([{"paths": ["w.bin"], "weights": [{"name": "a", "shape": [2],
        "dtype": "float32", "quantization": {"dtype": "int4", "min": 0, "scale": 1}}]}])");
    CHECK_THAT(
        error_of([&] { tfjs::read_weights(m); }),
        Catch::Contains("tensor 'a'") && Catch::Contains("unknown quantization dtype 'int4'"));
    write_text(m, R"([{"paths": ["w.bin"], "weights": [{"name": "a", "shape": [2],
        "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 1}}]}])");
    CHECK_THAT(error_of([&] { tfjs::read_weights(m); }),
               Catch::Contains("tensor 'a'") && Catch::Contains("'min' and 'scale'"));
  }
  SECTION("duplicate name") {
    write_text(m, R"([{"paths": ["w.bin"], "weights": [
        {"name": "a", "shape": [2], "dtype": "float32"},
        {"name": "a", "shape": [2], "dtype": "float32"}]}])");
    CHECK_THAT(error_of([&] { tfjs::read_weights(m); }), Catch::Contains("'a' appears twice"));
  }
}

// ---- The pretrained MobileNetV1 backbone against the JavaScript framework's outputs ----------

namespace {

// tools/tfjs_reference/make_reference.js: the generated test image, integers 0..255.
int pixel(int n, int y, int x, int c) {
  return (7 * x + 11 * y + 50 * c + 3 * ((x * y) >> 4) + 97 * n + ((x ^ y) & 31)) & 255;
}
// The image as moodnet's zoo models take it: x / 255. The backbone's Rescaling(2, -1) then gives
// exactly face-api's float32(x / 127.5) - 1 (doubling is exact in binary floating point).
template <class D>
Tensor<D> reference_image(int n, int h, int w) {
  Tensor<D> t({1, h, w, 3});
  int64_t i = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        t[i++] = static_cast<typename D::value_type>(static_cast<float>(pixel(n, y, x, c) / 255.0));
  return t;
}

// Runs a model layer by layer (graphs too: layer_inputs names each layer's input nodes) and keeps
// each layer's output under the name TF.js's reference gives it: "Conv2d_3_depthwise" is the
// output of moodnet's Conv2d_3_depthwise_relu6 (face-api's depthwise layer is conv, batch norm
// and clip in one).
template <class D>
std::map<std::string, std::vector<double>> layer_outputs(Model<D>& m, const Tensor<D>& x) {
  std::map<std::string, std::vector<double>> out;
  std::vector<Tensor<D>> node(m.num_layers() + 1);
  node[0] = x;
  for (size_t l = 0; l < m.num_layers(); ++l) {
    std::vector<const Tensor<D>*> in;
    for (auto id : m.layer_inputs(l)) in.push_back(&node[static_cast<size_t>(id)]);
    m.layer(l).call(in, node[l + 1]);
    std::string name = m.layer(l).name();
    if (name.ends_with("_relu6")) name.resize(name.size() - 6);
    out[name] = std::vector<double>(node[l + 1].begin(), node[l + 1].end());
  }
  return out;
}

// The relative error used against TF.js: max_i |a_i - b_i| / max_i |b_i| over a layer's stored
// values (the infinity-norm relative error). Element by element, |a - b| / |b| is no measure
// here: a depthwise BatchNorm with moving_variance 0 multiplies by gamma / sqrt(0.001), so values
// near 0 carry absolute float32 rounding noise of the layer's scale; TF.js's own float32 results
// differ from an exact float64 evaluation by about as much as moodnet's do (see the test).
double max_norm_relative(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

struct TfjsReference {
  nlohmann::json index;
  std::vector<float> values;
  // tests/data/tfjs/<name>.{json,bin}, written by tools/tfjs_reference/make_reference.js.
  static TfjsReference load(const std::string& name) {
    const fs::path data = fs::path(MOODNET_SOURCE_DIR) / "tests" / "data" / "tfjs";
    TfjsReference r;
    std::ifstream jf(data / (name + ".json"));
    REQUIRE(jf.good());
    r.index = nlohmann::json::parse(jf);
    std::ifstream bf(data / (name + ".bin"), std::ios::binary | std::ios::ate);
    REQUIRE(bf.good());
    r.values.resize(static_cast<size_t>(bf.tellg()) / sizeof(float));
    bf.seekg(0);
    bf.read(reinterpret_cast<char*>(r.values.data()),
            static_cast<std::streamsize>(r.values.size() * sizeof(float)));
    REQUIRE(bf.good());
    return r;
  }
  std::vector<double> array(const nlohmann::json& a) const {
    const auto at = a.at("at").get<size_t>(), count = a.at("count").get<size_t>();
    REQUIRE(at + count <= values.size());
    return {values.begin() + int64_t(at), values.begin() + int64_t(at + count)};
  }
};

// (raw values, per-channel sums over N, H, W) of one layer output, as the reference stores them.
std::pair<std::vector<double>, std::vector<double>> stored_form(const std::vector<double>& y,
                                                                const nlohmann::json& out) {
  const auto& raw = out.at("raw");
  const auto count = raw.at("count").get<size_t>(), stride = raw.at("stride").get<size_t>(),
             offset = raw.at("offset").get<size_t>();
  std::vector<double> values(count), sums(out.at("channel_sums").at("count").get<size_t>(), 0.0);
  for (size_t i = 0; i < count; ++i) values[i] = y.at(offset + i * stride);
  for (size_t i = 0; i < y.size(); ++i) sums[i % sums.size()] += y[i];
  return {values, sums};
}

bool weights_present(const fs::path& dir, const std::string& manifest) {
  if (fs::exists(dir / manifest)) return true;
  // Catch2 v2 has no SKIP: the test warns and returns (it then counts as passed).
  WARN("SKIPPED: pretrained weights not found in "
       << dir.string() << "; run scripts/fetch-pretrained.sh (or set MOODNET_PRETRAINED_DIR) "
       << "to check the imported models against TF.js");
  return false;
}

}  // namespace

TEST_CASE("tfjs: pretrained MobileNetV1 backbone matches TF.js (face-api) within 1e-4",
          "[tfjs][pretrained]") {
  const fs::path weights = zoo::default_pretrained_dir();
  if (!weights_present(weights, "ssd_mobilenetv1_model-weights_manifest.json")) return;
  const TfjsReference ref = TfjsReference::load("mobilenet_v1");
  REQUIRE(ref.index.at("layers").size() == 27);

  double worst_values = 0, worst_sums = 0, worst_f64 = 0;
  int compared = 0;
  for (const auto& in : ref.index.at("inputs")) {
    const int h = in.at("height").get<int>(), w = in.at("width").get<int>();
    const int image = in.at("image").get<int>();
    Model<Cpu> backbone = zoo::mobilenet_v1_backbone<Cpu>(weights, {h, w, 3});
    REQUIRE(backbone.output_shape() == Shape({(h + 31) / 32, (w + 31) / 32, 1024}));
    const auto ours = layer_outputs(backbone, reference_image<Cpu>(image, h, w));
    // The exact computation (float64, moodnet's Reference device) on the small inputs: shows how
    // far TF.js's own float32 arithmetic is from exact.
    std::map<std::string, std::vector<double>> exact;
    if (h * w <= 100 * 76) {
      Model<moodnet::Reference> m =
          zoo::mobilenet_v1_backbone<moodnet::Reference>(weights, {h, w, 3});
      exact = layer_outputs(m, reference_image<moodnet::Reference>(image, h, w));
    }
    for (const auto& out : in.at("outputs")) {
      const std::string layer = out.at("layer").get<std::string>();
      INFO("input " << in.at("name").get<std::string>() << " " << h << "x" << w << ", layer "
                    << layer);
      REQUIRE(ours.count(layer) == 1);
      const std::vector<double>& y = ours.at(layer);
      REQUIRE(static_cast<int64_t>(y.size()) ==
              Shape(out.at("shape").get<std::vector<int64_t>>()).num_elements());
      const auto [values, sums] = stored_form(y, out);
      const double e_values = max_norm_relative(values, ref.array(out.at("raw")));
      const double e_sums = max_norm_relative(sums, ref.array(out.at("channel_sums")));
      CHECK(e_values <= 1e-4);
      CHECK(e_sums <= 1e-4);
      if (layer == "Conv2d_0") CHECK(e_values == 0);  // one conv: bitwise equal to TF.js
      worst_values = std::max(worst_values, e_values);
      worst_sums = std::max(worst_sums, e_sums);
      if (exact.count(layer)) {
        const double e =
            max_norm_relative(stored_form(exact.at(layer), out).first, ref.array(out.at("raw")));
        CHECK(e <= 1e-4);
        worst_f64 = std::max(worst_f64, e);
      }
      ++compared;
    }
  }
  CHECK(compared == 28);
  WARN("MobileNetV1 vs TF.js on " << compared << " layer outputs: max relative error "
                                  << worst_values << " (values), " << worst_sums
                                  << " (channel sums); exact float64 vs TF.js: " << worst_f64);
}

// ---- The pretrained expression net against TF.js ---------------------------------------------

namespace {

// face-api's preprocessing: tfjs's bilinear resize, pixels left in [0, 255].
std::vector<float> tfjs_resize_bilinear(const Image& img, int64_t nh, int64_t nw) {
  std::vector<float> out(static_cast<size_t>(nh * nw * img.channels));
  moodnet::zoo::resize_bilinear_tfjs(img, nh, nw, 1.0, out.data());
  return out;
}

}  // namespace

TEST_CASE("tfjs: pretrained face expression net matches TF.js (face-api)", "[tfjs][pretrained]") {
  const fs::path weights = zoo::default_pretrained_dir();
  if (!weights_present(weights, "face_expression_model-weights_manifest.json")) return;
  const TfjsReference ref = TfjsReference::load("face_expression");
  Model<Cpu> net = zoo::face_expression_net<Cpu>(weights);
  REQUIRE(net.output_shape() == Shape{7});
  CHECK(net.count_params().trainable == 0);  // frozen
  CHECK(zoo::face_expression_classes() == ref.index.at("classes").get<std::vector<std::string>>());

  SECTION("layer outputs on generated images") {
    double worst = 0, worst_f64 = 0;
    for (const auto& in : ref.index.at("inputs")) {
      const int image = in.at("image").get<int>();
      const auto ours = layer_outputs(net, reference_image<Cpu>(image, 112, 112));
      Model<moodnet::Reference> exact_net = zoo::face_expression_net<moodnet::Reference>(weights);
      const auto exact =
          layer_outputs(exact_net, reference_image<moodnet::Reference>(image, 112, 112));
      for (const auto& out : in.at("outputs")) {
        const std::string layer = out.at("layer").get<std::string>();
        INFO("input " << in.at("name").get<std::string>() << ", layer " << layer);
        REQUIRE(ours.count(layer) == 1);
        REQUIRE(static_cast<int64_t>(ours.at(layer).size()) ==
                Shape(out.at("shape").get<std::vector<int64_t>>()).num_elements());
        const auto [values, sums] = stored_form(ours.at(layer), out);
        const double e = std::max(max_norm_relative(values, ref.array(out.at("raw"))),
                                  max_norm_relative(sums, ref.array(out.at("channel_sums"))));
        CHECK(e <= 1e-4);
        worst = std::max(worst, e);
        worst_f64 = std::max(worst_f64, max_norm_relative(stored_form(exact.at(layer), out).first,
                                                          ref.array(out.at("raw"))));
      }
    }
    CHECK(worst_f64 <= 1e-4);
    WARN("expression net vs TF.js on generated images: max relative error "
         << worst << "; exact float64 vs TF.js: " << worst_f64);
  }

  SECTION("FER2013 photos: same probabilities and the same predicted class") {
    const fs::path data = MOODNET_SHARED_DATA_DIR;
    const auto& files = ref.index.at("photos").at("files");
    if (!fs::exists(data / files.at(0).at("file").get<std::string>())) {
      WARN("SKIPPED: FER2013 photos not found under " << data.string());
      return;
    }
    const auto n = static_cast<int64_t>(files.size());
    REQUIRE(n >= 100);
    Tensor<Cpu> x({n, 112, 112, 3});
    for (int64_t i = 0; i < n; ++i) {
      const auto& f = files.at(static_cast<size_t>(i));
      const Image img = decode_image(data / f.at("file").get<std::string>(), ColorMode::rgb);
      int64_t sum = 0, hash = 0;
      for (uint8_t p : img.pixels) {
        sum += p;
        hash = (hash * 31 + p) % 1000000007;
      }
      INFO(f.at("file").get<std::string>());
      REQUIRE(sum == f.at("pixel_sum").get<int64_t>());  // the pixels TF.js was given
      REQUIRE(hash == f.at("pixel_hash").get<int64_t>());
      const std::vector<float> r = tfjs_resize_bilinear(img, 112, 112);
      for (size_t k = 0; k < r.size(); ++k)
        x[i * 112 * 112 * 3 + int64_t(k)] = static_cast<float>(r[k] / 255.0);
    }
    const Tensor<Cpu> p = net.predict(x);
    const std::vector<double> js = ref.array(ref.index.at("photos").at("probabilities"));
    int same = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> mine(7), theirs(7);
      for (int k = 0; k < 7; ++k) {
        mine[size_t(k)] = p[i * 7 + k];
        theirs[size_t(k)] = js[size_t(i * 7 + k)];
      }
      const auto argmax = std::max_element(mine.begin(), mine.end()) - mine.begin();
      same += argmax == files.at(static_cast<size_t>(i)).at("argmax").get<int64_t>();
      worst = std::max(worst, max_norm_relative(mine, theirs));
    }
    CHECK(same == n);
    CHECK(worst <= 1e-4);
    WARN("expression net vs TF.js on " << n << " FER2013 photos: " << same
                                       << " identical predicted classes, max relative error "
                                       << worst << " (probabilities)");
  }
}

TEST_CASE("tfjs: imported models are ordinary moodnet models (frozen, saved and loaded bitwise)",
          "[tfjs][pretrained]") {
  const fs::path weights = zoo::default_pretrained_dir();
  if (!weights_present(weights, "face_expression_model-weights_manifest.json") ||
      !weights_present(weights, "ssd_mobilenetv1_model-weights_manifest.json"))
    return;
  TempDir dir("moodnet_tfjs");
  std::vector<Model<Cpu>> models;
  models.push_back(zoo::mobilenet_v1_backbone<Cpu>(weights, {64, 48, 3}, /*global_pool=*/true));
  models.push_back(zoo::face_expression_net<Cpu>(weights));
  models.push_back(zoo::face_expression_net<Cpu>(weights, /*features_only=*/true));
  CHECK(models[0].count_params().total == 3210912);  // every MobilenetV1/ value of the manifest
  CHECK(models[0].output_shape() == Shape{1024});
  CHECK(models[1].count_params().total == 323687 + 12);  // + the input normalisation's BatchNorm
  CHECK(models[2].output_shape() == Shape{256});
  for (Model<Cpu>& m : models) {
    INFO(m.name());
    CHECK(m.count_params().trainable == 0);
    const fs::path file = dir / (m.name() + ".moodnet");
    save_model(m, file);
    const Model<Cpu> loaded = load_model<Cpu>(file);
    Tensor<Cpu> x(m.input_shape().with_batch(2));
    for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 256) / 255.0f;
    CHECK(m.predict(x).to_vector() == loaded.predict(x).to_vector());
    CHECK(loaded.metadata().at("pretrained").get<std::string>().find("face-api@1.7.15") !=
          std::string::npos);
  }
}
