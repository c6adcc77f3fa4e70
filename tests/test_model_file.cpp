// Model files: save -> load gives a bit-identical model (weights, BatchNorm statistics, names,
// summary, optimizer state), damaged files give clear errors, failed saves leave old files alone.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <moodnet/moodnet.hpp>
#include <nlohmann/json.hpp>  // reads the headers moodnet writes with an independent parser
#include <random>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>

#include <csignal>

#include "temp_dir.hpp"
#define MOODNET_TEST_POSIX 1
#endif

using namespace moodnet;
namespace fs = std::filesystem;

namespace {

using moodnet::test::TempDir;

std::vector<char> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const fs::path& p, const std::vector<char>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

// Rewrites a model file's JSON header through `edit`, with a consistent checksum.
void repack(const fs::path& src, const fs::path& dst,
            const std::function<void(nlohmann::json&)>& edit) {
  const std::vector<char> b = read_bytes(src);
  const auto* u = reinterpret_cast<const unsigned char*>(b.data());
  const auto hl = detail::model_io::get_le<uint64_t>(u + 12);
  nlohmann::json header = nlohmann::json::parse(b.begin() + 20, b.begin() + 20 + int64_t(hl));
  edit(header);
  std::string out(b.begin(), b.begin() + 12);
  detail::model_io::put_le<uint64_t>(out, header.dump().size());
  out += header.dump();
  out.append(b.begin() + 20 + int64_t(hl), b.end() - 8);
  detail::model_io::put_le<uint64_t>(out, detail::model_io::fnv1a64(out.data(), out.size()));
  write_bytes(dst, {out.begin(), out.end()});
}

template <class D>
Tensor<D> random_input(const Shape& sample, int64_t n, uint64_t seed, double scale = 1) {
  Tensor<D> x(sample.with_batch(n));
  for (int64_t i = 0; i < x.size(); ++i)
    x[i] = typename D::value_type(scale * random_uniform(seed, 1, uint64_t(i)));
  return x;
}

// `steps` hand-written training steps (forward, loss, backward, optimizer step).
template <class D>
void train_steps(Model<D>& m, Optimizer<D>& opt, const Tensor<D>& x, const Tensor<D>& y, int steps,
                 Loss loss = Loss::binary_crossentropy()) {
  auto params = m.trainable_parameters();
  m.zero_grad();
  Tensor<D> grad;
  for (int s = 0; s < steps; ++s) {
    const Tensor<D>& out = m.forward(x, TrainStep{11, uint64_t(opt.iterations())});
    const LossResult<D> r = compute_loss(loss, m, out, y, &grad);
    m.backward(grad, r.grad_is_preactivation);
    opt.step(params);
  }
}

template <class D>
void require_same_weights(Model<D>& a, Model<D>& b) {
  auto pa = a.parameters(), pb = b.parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i]->name);
    REQUIRE(pa[i]->value.shape() == pb[i]->value.shape());
    REQUIRE(pa[i]->value.to_vector() == pb[i]->value.to_vector());
  }
}

// Every registered layer type in one small graph, with a frozen layer and custom names.
template <class D>
Model<D> all_layers_model(uint64_t seed) {
  Model<D> m(Shape{8, 8, 3}, seed, "all-layers");
  m.add(Rescaling<D>(1.0 / 255, 0.125, "scale"));
  m.add(Conv2D<D>({.filters = 4,
                   .padding = Padding::same,
                   .activation = Activation::relu,
                   .l2 = 1e-3,
                   .name = "conv"}));
  m.add(BatchNormalization<D>({.momentum = 0.9, .name = "bn"}));
  const auto r6 = m.add(ReLU6<D>("relu6"));
  DepthwiseConv2D<D> dw(
      {.kernel_size = {3, 1}, .padding = Padding::same, .depth_multiplier = 2, .name = "dw"});
  dw.set_trainable(false);
  m.add(std::move(dw));
  const auto a = m.add(ReLU<D>("relu"));
  const auto b =
      m.add(SeparableConv2D<D>({.filters = 8, .padding = Padding::same, .name = "sep"}), {r6});
  m.add(Add<D>("add"), {a, b});
  const auto mp = m.add(MaxPooling2D<D>({.pool_size = 2, .name = "maxpool"}));
  m.add(AveragePooling2D<D>(
      {.pool_size = 3, .strides = 2, .padding = Padding::same, .name = "avgpool"}));
  m.add(Flatten<D>("flatten"));
  m.add(Dropout<D>(0.25, "drop"));
  m.add(Dense<D>({.units = 6, .activation = Activation::relu, .name = "dense"}));
  const auto logits = m.add(Dense<D>({.units = 3, .name = "logits"}));
  const auto gap = m.add(GlobalAveragePooling2D<D>("gap"), {mp});
  const auto side = m.add(Dense<D>({.units = 3, .use_bias = false, .name = "side"}));
  m.add(Add<D>("add_1"), {logits, side});
  m.add(Sigmoid<D>("sigmoid"));
  m.add(Softmax<D>("softmax"));
  (void)gap;
  return m;
}

Tensor<Cpu> one_hot(int64_t n, int64_t k) {
  Tensor<Cpu> y(Shape{n, k}, 0.0f);
  for (int64_t i = 0; i < n; ++i) y[i * k + i % k] = 1;
  return y;
}

}  // namespace

TEST_CASE("model_file: seed004-attempt3 round-trips bit-identically", "[model_file]") {
  TempDir dir;
  const Model<Cpu> model = zoo::build<Cpu>("seed004-attempt3", 5);
  const Tensor<Cpu> x = random_input<Cpu>(model.input_shape(), 2, 1);
  save_model(model, dir / "a.mnet");
  Model<Cpu> loaded = load_model<Cpu>(dir / "a.mnet");
  CHECK(loaded.summary() == model.summary());
  CHECK(loaded.name() == "seed004-attempt3");
  CHECK(loaded.predict(x).to_vector() == model.predict(x).to_vector());
  Model<Cpu> copy = model;
  require_same_weights(copy, loaded);
  // Saving is deterministic, and nothing but the file is left in the directory.
  save_model(loaded, dir / "b.mnet");
  CHECK(read_bytes(dir / "a.mnet") == read_bytes(dir / "b.mnet"));
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 2);
  // No optimizer was saved.
  CHECK(load_model_file<Cpu>(dir / "a.mnet").optimizer == nullptr);
}

TEST_CASE("model_file: seed003 keeps its graph and trained BatchNorm statistics", "[model_file]") {
  TempDir dir;
  Model<Cpu> model = zoo::build<Cpu>("seed003", 3);
  const Tensor<Cpu> x = random_input<Cpu>(model.input_shape(), 2, 2, 255);
  Tensor<Cpu> y(Shape{2, 1}, std::vector<float>{0, 1});
  Adam<Cpu> adam;
  train_steps(model, adam, x, y, 1);
  const Parameter<Cpu>* moving_mean = model.layer("batch_normalization").parameters()[2];
  REQUIRE(moving_mean->name == "moving_mean");
  CHECK(moving_mean->value[0] != 0.0f);

  save_model(model, dir / "seed003.mnet", &adam);
  LoadedModel<Cpu> lm = load_model_file<Cpu>(dir / "seed003.mnet");
  CHECK(lm.model.summary() == model.summary());
  CHECK_FALSE(lm.model.is_sequential());
  for (size_t i = 0; i < model.num_layers(); ++i)
    CHECK(lm.model.layer_inputs(i) == model.layer_inputs(i));
  require_same_weights(model, lm.model);
  CHECK(lm.model.predict(x).to_vector() == model.predict(x).to_vector());
  REQUIRE(lm.optimizer != nullptr);
  CHECK(lm.optimizer->iterations() == 1);
}

TEST_CASE("model_file: every layer type, Dropout/Dense heads, frozen layers and names",
          "[model_file]") {
  TempDir dir;
  Model<Cpu> model = all_layers_model<Cpu>(9);
  std::set<std::string> types;
  for (size_t i = 0; i < model.num_layers(); ++i) types.insert(model.layer(i).type());
  const auto registered = registered_layer_types<Cpu>();
  CHECK(types == std::set<std::string>(registered.begin(), registered.end()));
  CHECK(registered.size() == 16);

  const Tensor<Cpu> x = random_input<Cpu>(model.input_shape(), 5, 3, 255);
  SGD<Cpu> sgd({.learning_rate = 0.1, .momentum = 0.9});
  train_steps(model, sgd, x, one_hot(5, 3), 2, Loss::categorical_crossentropy());
  save_model(model, dir / "all.mnet");
  Model<Cpu> loaded = load_model<Cpu>(dir / "all.mnet");
  CHECK(loaded.summary() == model.summary());
  for (size_t i = 0; i < model.num_layers(); ++i) {
    CHECK(loaded.layer(i).name() == model.layer(i).name());
    CHECK(loaded.layer(i).trainable() == model.layer(i).trainable());
    CHECK(loaded.layer(i).config() == model.layer(i).config());
  }
  CHECK_FALSE(loaded.layer("dw").trainable());
  CHECK(loaded.predict(x).to_vector() == model.predict(x).to_vector());
  require_same_weights(model, loaded);
  // The L2 factor comes back too (it is part of the Conv2D config).
  CHECK(loaded.layer("conv").parameters()[0]->l2 == 1e-3);

  // Training the reloaded model continues exactly like the original (Dropout masks included).
  SGD<Cpu> sgd2 = sgd;
  Model<Cpu> copy = model;
  train_steps(copy, sgd, x, one_hot(5, 3), 1, Loss::categorical_crossentropy());
  train_steps(loaded, sgd2, x, one_hot(5, 3), 1, Loss::categorical_crossentropy());
  require_same_weights(copy, loaded);
}

TEST_CASE("model_file: optimizer state round-trips (slots and iterations)", "[model_file]") {
  TempDir dir;
  const Tensor<Cpu> x = random_input<Cpu>(Shape{8, 8, 3}, 4, 5, 255);
  const Tensor<Cpu> y = one_hot(4, 3);
  std::vector<std::unique_ptr<Optimizer<Cpu>>> optimizers;
  optimizers.push_back(
      std::make_unique<Adam<Cpu>>(AdamOptions{.learning_rate = 0.01, .beta_1 = 0.8}));
  optimizers.push_back(std::make_unique<RMSprop<Cpu>>(RMSpropOptions{.learning_rate = 0.002}));
  optimizers.push_back(std::make_unique<SGD<Cpu>>(SGDOptions{.momentum = 0.5, .nesterov = true}));
  for (auto& opt : optimizers) {
    INFO(opt->name());
    Model<Cpu> model = all_layers_model<Cpu>(4);
    train_steps(model, *opt, x, y, 3, Loss::categorical_crossentropy());
    const fs::path file = dir / (opt->name() + ".mnet");
    save_model(model, file, opt.get());
    LoadedModel<Cpu> lm = load_model_file<Cpu>(file);
    REQUIRE(lm.optimizer != nullptr);
    CHECK(lm.optimizer->name() == opt->name());
    CHECK(lm.optimizer->config() == opt->config());
    CHECK(lm.optimizer->iterations() == 3);
    auto& s0 = opt->slots();
    auto& s1 = lm.optimizer->slots();
    REQUIRE(s1.size() == s0.size());
    REQUIRE(s0.size() == model.trainable_parameters().size());
    for (size_t i = 0; i < s0.size(); ++i) {
      REQUIRE(s1[i].size() == s0[i].size());
      for (size_t k = 0; k < s0[i].size(); ++k) CHECK(s1[i][k].to_vector() == s0[i][k].to_vector());
    }
    // The next step is the same for the original and the reloaded pair.
    train_steps(model, *opt, x, y, 1, Loss::categorical_crossentropy());
    train_steps(lm.model, *lm.optimizer, x, y, 1, Loss::categorical_crossentropy());
    require_same_weights(model, lm.model);
  }
  // An optimizer that has not stepped yet saves no slots.
  Model<Cpu> model = all_layers_model<Cpu>(4);
  Adam<Cpu> fresh;
  save_model(model, dir / "fresh.mnet", &fresh);
  LoadedModel<Cpu> lm = load_model_file<Cpu>(dir / "fresh.mnet");
  REQUIRE(lm.optimizer != nullptr);
  CHECK(lm.optimizer->slots().empty());
  CHECK(lm.optimizer->iterations() == 0);
  // State from another model is refused, naming the mismatch.
  Model<Cpu> other(Shape{8, 8, 3});
  other.add(Flatten<Cpu>());
  other.add(Dense<Cpu>({.units = 3, .activation = Activation::softmax}));
  REQUIRE_THROWS_WITH(save_model(other, dir / "other.mnet", optimizers[0].get()),
                      Catch::Contains("cannot save model to") && Catch::Contains("trainable"));
  CHECK_FALSE(fs::exists(dir / "other.mnet"));
}

TEST_CASE("model_file: Reference models save as float32 and load on either device",
          "[model_file]") {
  TempDir dir;
  Model<Cpu> cpu = all_layers_model<Cpu>(2);
  save_model(cpu, dir / "cpu.mnet");
  Model<Reference> ref = load_model<Reference>(dir / "cpu.mnet");
  auto pc = cpu.parameters();
  auto pr = ref.parameters();
  REQUIRE(pc.size() == pr.size());
  for (size_t i = 0; i < pc.size(); ++i)
    for (int64_t j = 0; j < pc[i]->value.size(); ++j)
      REQUIRE(pr[i]->value[j] == double(pc[i]->value[j]));
  CHECK(ref.summary() == cpu.summary());

  // A Reference model's doubles are rounded to float32 once; after that the file is stable.
  Model<Reference> r0 = all_layers_model<Reference>(6);
  save_model(r0, dir / "ref.mnet");
  Model<Reference> r1 = load_model<Reference>(dir / "ref.mnet");
  auto p0 = r0.parameters(), p1 = r1.parameters();
  for (size_t i = 0; i < p0.size(); ++i)
    for (int64_t j = 0; j < p0[i]->value.size(); ++j)
      REQUIRE(p1[i]->value[j] == double(float(p0[i]->value[j])));
  save_model(r1, dir / "ref2.mnet");
  CHECK(read_bytes(dir / "ref.mnet") == read_bytes(dir / "ref2.mnet"));
  const Tensor<Reference> x = random_input<Reference>(r1.input_shape(), 2, 8, 255);
  CHECK(load_model<Reference>(dir / "ref2.mnet").predict(x).to_vector() ==
        r1.predict(x).to_vector());
}

TEST_CASE("model_file: damaged files give errors naming the file and the problem", "[model_file]") {
  TempDir dir;
  const fs::path good = dir / "good.mnet";
  save_model(all_layers_model<Cpu>(1), good);
  const std::vector<char> bytes = read_bytes(good);
  const auto header_len =
      detail::model_io::get_le<uint64_t>(reinterpret_cast<const unsigned char*>(bytes.data()) + 12);
  const size_t data_start = 20 + header_len;
  REQUIRE(bytes.size() > data_start + 100);
  const fs::path bad = dir / "bad.mnet";
  auto load_bad = [&] { (void)load_model<Cpu>(bad); };
  auto with = [&](const std::vector<char>& b) { write_bytes(bad, b); };
  const auto named = Catch::Contains("model file '" + bad.string() + "'");

  SECTION("missing file") {
    REQUIRE_THROWS_WITH(load_model<Cpu>(dir / "nope.mnet"),
                        Catch::Contains("no such file") && Catch::Contains("nope.mnet"));
    REQUIRE_THROWS_WITH(load_model<Cpu>(dir.path), Catch::Contains("is a directory"));
  }
  SECTION("a text file") {
    std::ofstream(bad) << "model: seed004\nweights: none\n";
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("not a moodnet model file"));
  }
  SECTION("wrong magic") {
    auto b = bytes;
    b[1] = 'X';
    with(b);
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("not a moodnet model file"));
  }
  SECTION("unsupported version") {
    auto b = bytes;
    b[8] = 2;
    with(b);
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("unsupported format version 2"));
  }
  SECTION("truncated anywhere") {
    for (size_t cut : {size_t(0), size_t(5), size_t(8), size_t(13), size_t(20), size_t(21),
                       data_start - 1, data_start, data_start + 7, bytes.size() / 2,
                       bytes.size() - 9, bytes.size() - 8, bytes.size() - 1}) {
      INFO("cut at " << cut << " of " << bytes.size());
      with({bytes.begin(), bytes.begin() + int64_t(cut)});
      REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("truncated"));
    }
  }
  SECTION("a flipped byte in the tensor data or the checksum") {
    for (size_t at : {data_start + 3, bytes.size() - 20, bytes.size() - 2}) {
      auto b = bytes;
      b[at] = char(b[at] ^ 0x10);
      with(b);
      REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("corrupt: checksum mismatch"));
    }
  }
  SECTION("a flipped byte in the header") {
    auto b = bytes;
    b[20 + 1] = '#';
    with(b);
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("corrupt: checksum mismatch"));
  }
  SECTION("extra bytes after the data") {
    auto b = bytes;
    b.insert(b.end() - 8, 4, '\0');
    with(b);
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("checksum mismatch"));
  }
  SECTION("bad JSON with a valid checksum") {
    std::string s(bytes.begin(), bytes.end());
    s[20] = '[';  // the header's opening brace
    s.resize(s.size() - 8);
    detail::model_io::put_le<uint64_t>(s, detail::model_io::fnv1a64(s.data(), s.size()));
    with({s.begin(), s.end()});
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("bad JSON header"));
  }
  SECTION("unknown layer type") {
    repack(good, bad, [](nlohmann::json& h) { h["architecture"]["layers"][1]["type"] = "Conv3D"; });
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("unknown layer type 'Conv3D'") &&
                                        Catch::Contains("'conv'"));
  }
  SECTION("a tensor whose shape does not match the architecture") {
    repack(good, bad, [](nlohmann::json& h) {
      for (auto& t : h["tensors"])
        if (t["name"] == "conv/kernel") t["shape"] = {3, 3, 4, 3};  // same size, wrong shape
    });
    REQUIRE_THROWS_WITH(load_bad(),
                        named && Catch::Contains("tensor 'conv/kernel' has shape (3, 3, 4, 3)") &&
                            Catch::Contains("needs (3, 3, 3, 4)"));
    // The architecture changed instead: Dense "dense" now wants 7 units.
    repack(good, bad, [](nlohmann::json& h) {
      for (auto& l : h["architecture"]["layers"])
        if (l["name"] == "dense") l["config"]["units"] = 7;
    });
    REQUIRE_THROWS_WITH(load_bad(),
                        named && Catch::Contains("tensor 'dense/kernel' has shape (32, 6)") &&
                            Catch::Contains("needs (32, 7)"));
  }
  SECTION("a missing or extra tensor") {
    repack(good, bad, [](nlohmann::json& h) {
      auto& t = h["tensors"];
      for (size_t i = 0; i < t.size(); ++i)
        if (t[i]["name"] == "dense/bias") t.erase(i);
    });
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("tensor 'dense/bias' is missing"));
    repack(good, bad, [](nlohmann::json& h) {
      auto e = h["tensors"][0];
      e["name"] = "ghost/kernel";
      h["tensors"].push_back(e);
    });
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("'ghost/kernel' belongs to no layer"));
  }
  SECTION("an architecture far larger than the file (no attempt to allocate it)") {
    // 2e9 filters would be 72 GB of kernel: the load must fail before allocating any of it.
    repack(good, bad, [](nlohmann::json& h) {
      for (auto& l : h["architecture"]["layers"])
        if (l["name"] == "conv") l["config"]["filters"] = 2'000'000'000;
    });
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("'conv'") &&
                                        Catch::Contains("more values than the model file holds"));
    // An input shape whose size does not fit 64 bits.
    repack(good, bad, [](nlohmann::json& h) {
      h["architecture"]["input_shape"] = {3037000500, 3037000500, 3};
    });
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("more elements than fit in 64 bits"));
  }
  SECTION("a tensor outside the data section") {
    repack(good, bad, [](nlohmann::json& h) { h["tensors"][1]["offset"] = h["data_bytes"]; });
    REQUIRE_THROWS_WITH(load_bad(), named && Catch::Contains("outside the data section"));
  }
  // The intact file still loads.
  CHECK_NOTHROW(load_model<Cpu>(good));
}

TEST_CASE("model_file: a failed save leaves the existing file intact", "[model_file]") {
  TempDir dir;
  const fs::path file = dir / "model.mnet";
  const Model<Cpu> old_model = all_layers_model<Cpu>(1);
  save_model(old_model, file);
  const std::vector<char> old_bytes = read_bytes(file);
  Model<Cpu> big(Shape{64});
  big.add(Dense<Cpu>({.units = 256}));  // a 66 KB file
  auto only_the_file_is_left = [&] {
    CHECK(read_bytes(file) == old_bytes);
    CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  };

  SECTION("the target is a directory") {
    fs::create_directory(dir / "sub");
    std::ofstream(dir / "sub" / "keep.txt") << "keep";
    REQUIRE_THROWS_WITH(save_model(big, dir / "sub"), Catch::Contains("cannot save model to") &&
                                                          Catch::Contains("is a directory"));
    CHECK(fs::is_regular_file(dir / "sub" / "keep.txt"));
    fs::remove_all(dir / "sub");
    only_the_file_is_left();
  }
  SECTION("the directory does not exist") {
    REQUIRE_THROWS_WITH(save_model(big, dir / "missing" / "m.mnet"),
                        Catch::Contains("cannot create"));
    only_the_file_is_left();
  }
#if MOODNET_TEST_POSIX
  SECTION("the write fails half way (file size limit)") {
    // RLIMIT_FSIZE makes writes past 4 KB fail with EFBIG, even for root.
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto* previous = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = 4096;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string message;
    try {
      save_model(big, file);
    } catch (const Error& e) {
      message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, previous);
    CHECK_THAT(message, Catch::Contains("cannot save model to") && Catch::Contains("failed"));
    only_the_file_is_left();
    CHECK(load_model<Cpu>(file).summary() == old_model.summary());
  }
  SECTION("the directory is not writable") {
    fs::permissions(dir.path,
                    fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                    fs::perm_options::remove);
    const bool enforced = !std::ofstream(dir / "probe").is_open();  // root writes anyway
    fs::permissions(dir.path, fs::perms::owner_write, fs::perm_options::add);
    fs::remove(dir / "probe");
    if (enforced) {
      fs::permissions(dir.path, fs::perms::owner_write, fs::perm_options::remove);
      CHECK_THROWS_WITH(save_model(big, file), Catch::Contains("cannot create the temporary file"));
      fs::permissions(dir.path, fs::perms::owner_write, fs::perm_options::add);
      only_the_file_is_left();
    } else {
      WARN("running as root: a read-only directory is writable, so this section checks nothing");
    }
  }
#endif
  // A successful save then replaces it.
  save_model(big, file);
  CHECK(load_model<Cpu>(file).summary() == big.summary());
}
