// Model files: a trained model (architecture, every weight including BatchNorm's moving
// statistics, and optionally the optimizer's state) in one versioned, checksummed file.
//
//   save_model(model, "happy.mnet", &adam);        // optimizer state is optional
//   Model<Cpu> m = load_model<Cpu>("happy.mnet");
//   LoadedModel<Cpu> lm = load_model_file<Cpu>("happy.mnet");  // lm.model, lm.optimizer
//
// Layout (docs/MODEL_FORMAT.md has it byte by byte): "MOODNET\0", u32 version, u64 header
// length, JSON header, float32 little-endian tensor data, u64 FNV-1a checksum of everything
// before it. Saving writes a temporary file beside the target and renames it over the target, so
// an existing file is never left half-written. Loading validates everything and throws
// moodnet::Error naming the file and the problem.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../optim/optimizers.hpp"
#include "layer_registry.hpp"

namespace moodnet {

inline constexpr uint32_t model_file_version = 1;

template <class D>
struct LoadedModel {
  Model<D> model;
  std::unique_ptr<Optimizer<D>> optimizer;  // null when the file holds no optimizer
};

namespace detail::model_io {

inline constexpr std::array<char, 8> magic = {'M', 'O', 'O', 'D', 'N', 'E', 'T', '\0'};
inline constexpr uint64_t preamble_bytes = 20;  // magic, u32 version, u64 header length
inline constexpr uint64_t checksum_bytes = 8;
inline constexpr uint64_t alignment = 64;  // writers align the data section and each tensor

// FNV-1a, 64-bit: every single-byte change alters the result.
struct Fnv1a64 {
  uint64_t h = 0xcbf29ce484222325ULL;
  void update(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t x = h;
    for (size_t i = 0; i < n; ++i) x = (x ^ p[i]) * 0x100000001b3ULL;
    h = x;
  }
};
inline uint64_t fnv1a64(const void* data, size_t n) {
  Fnv1a64 f;
  f.update(data, n);
  return f.h;
}

template <class U>
void put_le(std::string& out, U v) {
  for (size_t i = 0; i < sizeof(U); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
template <class U>
U get_le(const unsigned char* p) {
  U v = 0;
  for (size_t i = 0; i < sizeof(U); ++i) v |= static_cast<U>(p[i]) << (8 * i);
  return v;
}
inline uint64_t align_up(uint64_t n) { return (n + alignment - 1) / alignment * alignment; }

// n values of T -> little-endian float32 bytes appended to out.
template <class T>
void append_f32(std::string& out, const T* src, int64_t n) {
  const size_t at = out.size();
  out.resize(at + static_cast<size_t>(n) * 4);
  char* dst = out.data() + at;
  if constexpr (std::is_same_v<T, float> && std::endian::native == std::endian::little) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const auto bits = std::bit_cast<uint32_t>(static_cast<float>(src[i]));
      for (int b = 0; b < 4; ++b) dst[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
    }
  }
}
// n little-endian float32 values -> T.
template <class T>
void read_f32(const unsigned char* src, int64_t n, T* dst) {
  if constexpr (std::is_same_v<T, float> && std::endian::native == std::endian::little) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
  } else {
    for (int64_t i = 0; i < n; ++i)
      dst[i] = static_cast<T>(std::bit_cast<float>(get_le<uint32_t>(src + 4 * i)));
  }
}

// One tensor to write and its offset in the data section.
template <class D>
struct PendingTensor {
  const Tensor<D>* tensor;
  uint64_t offset;
};

template <class D>
std::string param_key(const Layer<D>& layer, const Parameter<D>& p) {
  return layer.name() + "/" + p.name;
}

// The trainable weights in the order Model::trainable_parameters() gives (the optimizer's order).
template <class D>
std::vector<std::pair<std::string, const Parameter<D>*>> trainable_params(const Model<D>& m) {
  std::vector<std::pair<std::string, const Parameter<D>*>> out;
  for (size_t i = 0; i < m.num_layers(); ++i) {
    const Layer<D>& l = m.layer(i);
    if (!l.trainable()) continue;
    for (const auto* p : l.parameters())
      if (p->trainable) out.emplace_back(param_key(l, *p), p);
  }
  return out;
}

inline std::string temp_suffix() {
  static std::atomic<uint64_t> counter{0};
  uint64_t r = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  try {
    std::random_device rd;
    r ^= (uint64_t(rd()) << 32) ^ rd();
  } catch (...) {  // no entropy source: the clock and the counter still differ per call
  }
  r = mix64(r ^ stream_id(++counter));
  char buf[20];
  std::snprintf(buf, sizeof buf, "%08llx", static_cast<unsigned long long>(r & 0xffffffffULL));
  return std::string(".tmp-") + buf;
}

// Removes the temporary file unless the save went through.
struct TempFileGuard {
  std::filesystem::path path;
  bool keep = false;
  ~TempFileGuard() {
    if (keep) return;
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

template <class D>
void save_impl(const Model<D>& model, const std::filesystem::path& path,
               const Optimizer<D>* optimizer) {
  namespace fs = std::filesystem;
  MOODNET_CHECK(model.num_layers() > 0, "the model has no layers");
  Value header = Value::object();
  header["format"] = "moodnet-model";
  header["writer"] = std::string("moodnet ") + version_string();
  header["architecture"] = architecture_json(model);

  std::vector<PendingTensor<D>> pending;
  uint64_t offset = 0;
  auto entry = [&](const Tensor<D>& t) {
    Value e = {{"shape", t.shape().dims()}, {"dtype", "f32"}, {"offset", offset}};
    pending.push_back({&t, offset});
    offset = align_up(offset + static_cast<uint64_t>(t.size()) * 4);
    return e;
  };
  std::set<std::string> names;
  Value tensors = Value::array();
  for (size_t i = 0; i < model.num_layers(); ++i) {
    const Layer<D>& l = model.layer(i);
    MOODNET_CHECK(!l.name().empty() && names.insert(l.name()).second, "two layers are named '",
                  l.name(), "'; layer names must be unique and non-empty");
    for (const auto* p : l.parameters()) {
      Value e = entry(p->value);
      e["name"] = param_key(l, *p);
      tensors.push_back(std::move(e));
    }
  }
  header["tensors"] = std::move(tensors);

  if (optimizer) {
    // slots() has no const overload; it is only read here.
    auto& slots = const_cast<Optimizer<D>*>(optimizer)->slots();
    const auto params = trainable_params(model);
    MOODNET_CHECK(slots.empty() || slots.size() == params.size(), "the optimizer holds state for ",
                  slots.size(), " parameters but the model has ", params.size(),
                  " trainable ones (was it used with another model?)");
    Value slot_entries = Value::array();
    for (size_t i = 0; i < slots.size(); ++i)
      for (size_t k = 0; k < slots[i].size(); ++k) {
        MOODNET_CHECK(slots[i][k].shape() == params[i].second->value.shape(), "optimizer slot ", k,
                      " of '", params[i].first, "' has shape ", slots[i][k].shape().to_string(),
                      " but the parameter has ", params[i].second->value.shape().to_string());
        Value e = entry(slots[i][k]);
        e["param"] = params[i].first;
        e["slot"] = k;
        slot_entries.push_back(std::move(e));
      }
    header["optimizer"] = Value{{"name", optimizer->name()},
                                {"config", optimizer->config()},
                                {"iterations", optimizer->iterations()},
                                {"slots", std::move(slot_entries)}};
  }
  header["data_bytes"] = offset;

  // Pad the JSON with spaces (valid JSON whitespace) so the data section starts aligned.
  std::string json = header.dump();
  json.append(align_up(preamble_bytes + json.size()) - preamble_bytes - json.size(), ' ');
  std::string head(magic.begin(), magic.end());
  put_le<uint32_t>(head, model_file_version);
  put_le<uint64_t>(head, json.size());
  head += json;

  const fs::path target = path;
  MOODNET_CHECK(!fs::is_directory(target), "the path is a directory");
  fs::path tmp_path = target;
  tmp_path += temp_suffix();
  TempFileGuard tmp{tmp_path};
  std::ofstream out(tmp.path, std::ios::binary | std::ios::trunc);
  MOODNET_CHECK(out.is_open(), "cannot create the temporary file '", tmp.path.string(), "'");
  Fnv1a64 sum;
  auto write = [&](const std::string& bytes) {
    sum.update(bytes.data(), bytes.size());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    MOODNET_CHECK(out.good(), "writing '", tmp.path.string(), "' failed (disk full?)");
  };
  write(head);
  std::string chunk;
  uint64_t written = 0;
  for (const auto& t : pending) {
    chunk.assign(t.offset - written, '\0');  // alignment padding
    append_f32(chunk, t.tensor->data(), t.tensor->size());
    write(chunk);
    written = t.offset + static_cast<uint64_t>(t.tensor->size()) * 4;
  }
  chunk.assign(offset - written, '\0');
  write(chunk);
  chunk.clear();
  put_le<uint64_t>(chunk, sum.h);
  out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  out.close();
  MOODNET_CHECK(!out.fail(), "writing '", tmp.path.string(), "' failed (disk full?)");
  std::error_code ec;
  fs::rename(tmp.path, target, ec);
  MOODNET_CHECK(!ec, "cannot replace the file: ", ec.message());
  tmp.keep = true;
}

// A validated view of one tensor's bytes.
struct TensorRef {
  std::vector<int64_t> shape;
  uint64_t elements = 0;
  const unsigned char* data = nullptr;
};

inline TensorRef tensor_ref(const Value& e, const std::string& what, const unsigned char* data,
                            uint64_t data_bytes) {
  MOODNET_CHECK(e.is_object(), what, ": tensor entry is not an object");
  const std::string dtype = e.at("dtype").get<std::string>();
  MOODNET_CHECK(dtype == "f32", what, ": unsupported dtype '", dtype, "' (expected f32)");
  TensorRef r;
  r.shape = e.at("shape").get<std::vector<int64_t>>();
  uint64_t n = 1;
  for (int64_t d : r.shape) {
    MOODNET_CHECK(d >= 0 && (d == 0 || n <= data_bytes / uint64_t(d)), what, ": bad shape");
    n *= static_cast<uint64_t>(d);
  }
  const uint64_t off = e.at("offset").get<uint64_t>();
  MOODNET_CHECK(off % 4 == 0 && off <= data_bytes && n * 4 <= data_bytes - off, what, ": offset ",
                off, " and size ", n * 4, " lie outside the data section (", data_bytes, " bytes)");
  r.data = data + off;
  r.elements = n;
  return r;
}

inline std::string shape_string(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

template <class D>
void fill_tensor(Tensor<D>& dst, const TensorRef& src, const std::string& name) {
  MOODNET_CHECK(src.shape == dst.shape().dims(), "tensor '", name, "' has shape ",
                shape_string(src.shape), " in the file but the architecture needs ",
                dst.shape().to_string());
  read_f32(src.data, dst.size(), dst.data());
}

inline std::vector<unsigned char> read_all(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto st = fs::status(path, ec);
  MOODNET_CHECK(fs::exists(st), "no such file");
  MOODNET_CHECK(!fs::is_directory(st), "is a directory, not a model file");
  std::ifstream in(path, std::ios::binary);
  MOODNET_CHECK(in.is_open(), "cannot open the file for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  MOODNET_CHECK(size >= 0, "cannot determine the file size");
  in.seekg(0, std::ios::beg);
  std::vector<unsigned char> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  MOODNET_CHECK(in.gcount() == size, "reading the file failed");
  return bytes;
}

template <class D>
LoadedModel<D> load_impl(const std::filesystem::path& path) {
  const std::vector<unsigned char> bytes = read_all(path);
  const uint64_t size = bytes.size();
  const unsigned char* b = bytes.data();
  const size_t m = std::min<size_t>(size, magic.size());
  const bool magic_ok = m == 0 || std::memcmp(b, magic.data(), m) == 0;
  MOODNET_CHECK(magic_ok, "not a moodnet model file (wrong magic bytes)");
  MOODNET_CHECK(size > 0, "truncated: the file is empty");
  MOODNET_CHECK(size >= preamble_bytes, "truncated: ", size, " bytes, shorter than the ",
                preamble_bytes, "-byte preamble");
  const auto version = get_le<uint32_t>(b + 8);
  MOODNET_CHECK(version == model_file_version, "unsupported format version ", version,
                " (this build of moodnet reads version ", model_file_version, ")");
  const auto header_len = get_le<uint64_t>(b + 12);
  MOODNET_CHECK(size >= preamble_bytes + checksum_bytes &&
                    header_len <= size - preamble_bytes - checksum_bytes,
                "truncated: ", size, " bytes cannot hold the ", header_len, "-byte header");
  const bool checksum_ok = fnv1a64(b, size - checksum_bytes) == get_le<uint64_t>(b + size - 8);
  Value header;
  try {
    header = Value::parse(std::string_view(reinterpret_cast<const char*>(b) + preamble_bytes,
                                           static_cast<size_t>(header_len)));
    MOODNET_CHECK(header.is_object(), "the header is not a JSON object");
  } catch (const std::exception& e) {
    MOODNET_CHECK(checksum_ok, "corrupt: checksum mismatch");
    MOODNET_FAIL("bad JSON header: ", e.what());
  }
  const Value db = header.contains("data_bytes") ? header["data_bytes"] : Value();
  const bool db_ok = db.is_integer() && db.is_unsigned();
  MOODNET_CHECK(db_ok || checksum_ok, "corrupt: checksum mismatch");
  MOODNET_CHECK(db_ok, "bad JSON header: no 'data_bytes'");
  const uint64_t data_bytes = db.get<uint64_t>();
  const uint64_t data_start = preamble_bytes + header_len;
  MOODNET_CHECK(data_bytes <= size - data_start - checksum_bytes, "truncated: ", size,
                " bytes but the header describes ", data_bytes, " bytes of tensor data (",
                data_start + data_bytes + checksum_bytes, " in all)");
  MOODNET_CHECK(checksum_ok, "corrupt: checksum mismatch");
  MOODNET_CHECK(data_bytes == size - data_start - checksum_bytes,
                "corrupt: ", size - data_start - checksum_bytes - data_bytes,
                " unexpected bytes after the data");
  const unsigned char* data = b + data_start;

  std::map<std::string, TensorRef> table;
  int64_t values_in_file = 0;
  for (const Value& e : header.at("tensors")) {
    const std::string name = e.at("name").get<std::string>();
    MOODNET_CHECK(!table.count(name), "tensor '", name, "' appears twice");
    const TensorRef& t = table[name] = tensor_ref(e, "tensor '" + name + "'", data, data_bytes);
    values_in_file += static_cast<int64_t>(t.elements);
  }
  // A safety net, not the check (that is per tensor, below): the architecture may not ask for
  // far more weights than the file holds, so a crafted header cannot make us allocate gigabytes.
  const int64_t budget = values_in_file + std::max<int64_t>(values_in_file, int64_t(1) << 20);
  LoadedModel<D> out{model_from_architecture<D>(header.at("architecture"), budget), nullptr};
  for (size_t i = 0; i < out.model.num_layers(); ++i) {
    Layer<D>& l = out.model.layer(i);
    for (auto* p : l.parameters()) {
      const std::string key = param_key(l, *p);
      auto it = table.find(key);
      MOODNET_CHECK(it != table.end(), "tensor '", key, "' is missing");
      fill_tensor(p->value, it->second, key);
      table.erase(it);
    }
  }
  MOODNET_CHECK(table.empty(), "tensor '", table.empty() ? "" : table.begin()->first,
                "' belongs to no layer of the architecture");

  if (!header.contains("optimizer")) return out;
  const Value& o = header["optimizer"];
  out.optimizer = make_optimizer<D>(o.at("name").get<std::string>(), o.at("config"));
  const auto iterations = o.at("iterations").get<int64_t>();
  MOODNET_CHECK(iterations >= 0, "optimizer: negative iteration count ", iterations);
  out.optimizer->set_iterations(iterations);
  auto params = out.model.trainable_parameters();
  const auto keys = trainable_params(out.model);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < keys.size(); ++i) index[keys[i].first] = i;
  std::vector<std::vector<Tensor<D>>> slots(params.size());
  size_t count = 0;
  for (const Value& e : o.at("slots")) {
    const std::string key = e.at("param").get<std::string>();
    const auto k = e.at("slot").get<size_t>();
    const std::string what = "optimizer slot " + std::to_string(k) + " of '" + key + "'";
    auto it = index.find(key);
    MOODNET_CHECK(it != index.end(), what, ": no such trainable parameter");
    auto& s = slots[it->second];
    MOODNET_CHECK(k < 16, what, ": slot index too large");
    if (s.size() <= k) s.resize(k + 1);
    MOODNET_CHECK(s[k].empty(), what, " appears twice");
    s[k].resize(params[it->second]->value.shape());
    fill_tensor(s[k], tensor_ref(e, what, data, data_bytes), what);
    ++count;
  }
  if (count > 0) {
    for (size_t i = 0; i < slots.size(); ++i) {
      MOODNET_CHECK(slots[i].size() == slots[0].size(), "optimizer state for '", keys[i].first,
                    "' has ", slots[i].size(), " slots, expected ", slots[0].size());
      for (const auto& t : slots[i])
        MOODNET_CHECK(!t.empty() || params[i]->value.size() == 0, "optimizer state for '",
                      keys[i].first, "' is missing a slot");
    }
    out.optimizer->slots() = std::move(slots);
  }
  return out;
}

// Runs f, turning every failure into a moodnet::Error that starts with `prefix`.
template <class F>
auto with_context(const std::string& prefix, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw Error(prefix + e.what());
  }
}

}  // namespace detail::model_io

// Writes the model (and the optimizer's state, when given) to `path`, atomically: the bytes go to
// a temporary file beside it that is then renamed over `path`; on failure the temporary is removed
// and an existing file at `path` is left as it was. Throws moodnet::Error naming the path.
template <class D>
void save_model(const Model<D>& model, const std::filesystem::path& path,
                const Optimizer<D>* optimizer = nullptr) {
  detail::model_io::with_context("cannot save model to '" + path.string() + "': ", [&] {
    detail::model_io::save_impl(model, path, optimizer);
    return 0;
  });
}

// Reads a model file written by save_model() for any device: weights are float32 on disk and
// converted to D's scalar type. Throws moodnet::Error "model file '<path>': <problem>".
template <class D>
LoadedModel<D> load_model_file(const std::filesystem::path& path) {
  return detail::model_io::with_context("model file '" + path.string() + "': ",
                                        [&] { return detail::model_io::load_impl<D>(path); });
}

template <class D>
Model<D> load_model(const std::filesystem::path& path) {
  return std::move(load_model_file<D>(path).model);
}

}  // namespace moodnet
