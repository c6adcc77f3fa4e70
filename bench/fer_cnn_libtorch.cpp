// fer-cnn in libtorch: an independent reference for moodnet's `--protocol fer-best` recipe.
//
// Not part of the library, its tests or its CMake build; it exists to answer "does moodnet train
// fer-cnn worse than libtorch on the same data?" (docs/ACCURACY.md, fer-cnn section). Its own
// data pipeline (stb_image decode, stratified split, horizontal flips), so it shares no code with
// moodnet. Build and run with scripts/fer-libtorch.sh (Debian: apt-get install libtorch-dev).
//
// Recipe (issue 5): 48x48 grayscale in [0, 1]; three blocks of [Conv 3x3 same, BN, ReLU, Conv 3x3
// same, BN, ReLU, MaxPool 2, Dropout 0.25] with 32, 64, 128 filters; Flatten, Dense 128 ReLU,
// Dropout 0.5, Dense 1 (a logit; binary cross-entropy with logits). Adam 1e-3 (Keras' epsilon
// 1e-7), batch 64, random horizontal flips, 10 % of train held out (stratified). Keras defaults
// where moodnet follows Keras: Glorot-uniform kernels and zero biases, BatchNorm epsilon 1e-3 and
// Keras momentum 0.99, i.e. PyTorch momentum 0.01 (PyTorch's momentum is the weight of the new
// batch, Keras' the weight of the old average).
//
// Prints one line per epoch: training loss/accuracy (running, in training mode, as Keras reports
// them), validation and test loss/accuracy (inference mode: moving statistics), the test ROC AUC
// and the share of test images predicted as class 1. With --blur-test S it also scores the test
// images after a Gaussian blur of standard deviation S pixels. Without --test, --test-frac F holds
// out a stratified fraction F of the training folder as the test set.
#include <torch/torch.h>

#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

struct Data {
  std::vector<float> x;  // (n, 48, 48) in [0, 1]
  std::vector<float> y;  // (n) 0/1
  int64_t n() const { return static_cast<int64_t>(y.size()); }
};

static void load_folder(const fs::path& dir, const std::vector<std::string>& classes, Data& d) {
  for (size_t k = 0; k < classes.size(); ++k) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir / classes[k])) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      int w = 0, h = 0, c = 0;
      unsigned char* p = stbi_load(f.c_str(), &w, &h, &c, 1);
      if (!p || w != 48 || h != 48) {
        std::fprintf(stderr, "skipping %s\n", f.c_str());
        if (p) stbi_image_free(p);
        continue;
      }
      for (int i = 0; i < 48 * 48; ++i) d.x.push_back(p[i] / 255.0f);
      d.y.push_back(static_cast<float>(k));
      stbi_image_free(p);
    }
  }
}

static Data take(const Data& d, const std::vector<int64_t>& idx) {
  Data r;
  for (int64_t i : idx) {
    r.x.insert(r.x.end(), d.x.begin() + i * 2304, d.x.begin() + (i + 1) * 2304);
    r.y.push_back(d.y[static_cast<size_t>(i)]);
  }
  return r;
}

// Separable Gaussian blur with reflected borders, in place on every 48x48 image.
static void gaussian_blur(Data& d, double sigma) {
  const int r = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> k(static_cast<size_t>(2 * r + 1));
  double z = 0;
  for (int i = -r; i <= r; ++i)
    z += k[static_cast<size_t>(i + r)] = std::exp(-i * i / (2 * sigma * sigma));
  for (auto& v : k) v /= z;
  auto refl = [](int i) {
    if (i < 0) i = -i - 1;
    if (i >= 48) i = 95 - i;
    return std::clamp(i, 0, 47);
  };
  std::vector<float> t(2304);
  for (int64_t n = 0; n < d.n(); ++n) {
    float* p = d.x.data() + n * 2304;
    for (int y = 0; y < 48; ++y)
      for (int x = 0; x < 48; ++x) {
        double a = 0;
        for (int i = -r; i <= r; ++i) a += k[static_cast<size_t>(i + r)] * p[y * 48 + refl(x + i)];
        t[static_cast<size_t>(y * 48 + x)] = static_cast<float>(a);
      }
    for (int y = 0; y < 48; ++y)
      for (int x = 0; x < 48; ++x) {
        double a = 0;
        for (int i = -r; i <= r; ++i)
          a += k[static_cast<size_t>(i + r)] * t[static_cast<size_t>(refl(y + i) * 48 + x)];
        p[y * 48 + x] = static_cast<float>(a);
      }
  }
}

struct FerCnnImpl : torch::nn::Module {
  torch::nn::Sequential features{nullptr}, head{nullptr};
  FerCnnImpl() {
    torch::nn::Sequential f;
    int64_t in = 1;
    for (int64_t fl : {32, 64, 128}) {
      for (int k = 0; k < 2; ++k) {
        f->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, fl, 3).padding(1)));
        f->push_back(
            torch::nn::BatchNorm2d(torch::nn::BatchNormOptions(fl).eps(1e-3).momentum(0.01)));
        f->push_back(torch::nn::ReLU());
        in = fl;
      }
      f->push_back(torch::nn::MaxPool2d(2));
      f->push_back(torch::nn::Dropout(0.25));
    }
    f->push_back(torch::nn::Flatten());
    features = register_module("features", f);
    head = register_module(
        "head", torch::nn::Sequential(torch::nn::Linear(128 * 6 * 6, 128), torch::nn::ReLU(),
                                      torch::nn::Dropout(0.5), torch::nn::Linear(128, 1)));
  }
  torch::Tensor forward(torch::Tensor x) { return head->forward(features->forward(x)).squeeze(1); }
};
TORCH_MODULE(FerCnn);

static void keras_init(torch::nn::Module& m) {
  torch::NoGradGuard g;
  for (auto& sub : m.modules(false)) {
    if (auto* c = sub->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::xavier_uniform_(c->weight);
      torch::nn::init::zeros_(c->bias);
    } else if (auto* l = sub->as<torch::nn::LinearImpl>()) {
      torch::nn::init::xavier_uniform_(l->weight);
      torch::nn::init::zeros_(l->bias);
    }
  }
}

static double roc_auc(const std::vector<float>& s, const std::vector<float>& y) {
  std::vector<size_t> o(s.size());
  for (size_t i = 0; i < o.size(); ++i) o[i] = i;
  std::sort(o.begin(), o.end(), [&](size_t a, size_t b) { return s[a] < s[b]; });
  double rank_sum = 0, pos = 0;
  for (size_t i = 0; i < o.size();) {
    size_t j = i;
    while (j < o.size() && s[o[j]] == s[o[i]]) ++j;
    const double avg = (double(i) + double(j - 1)) / 2 + 1;
    for (size_t t = i; t < j; ++t)
      if (y[o[t]] > 0.5f) rank_sum += avg, pos += 1;
    i = j;
  }
  const double neg = double(s.size()) - pos;
  return pos > 0 && neg > 0 ? (rank_sum - pos * (pos + 1) / 2) / (pos * neg) : 0.5;
}

struct Scores {
  double loss = 0, acc = 0, auc = 0.5, share1 = 0;
};

static Scores score(FerCnn& m, const Data& d) {
  torch::NoGradGuard g;
  m->eval();
  Scores r;
  std::vector<float> logits;
  for (int64_t b0 = 0; b0 < d.n(); b0 += 256) {
    const int64_t b = std::min<int64_t>(256, d.n() - b0);
    auto x = torch::from_blob(const_cast<float*>(d.x.data()) + b0 * 2304, {b, 1, 48, 48}).clone();
    auto z = m->forward(x).contiguous();
    logits.insert(logits.end(), z.data_ptr<float>(), z.data_ptr<float>() + b);
  }
  auto z = torch::from_blob(logits.data(), {d.n()}).clone();
  auto y = torch::from_blob(const_cast<float*>(d.y.data()), {d.n()}).clone();
  r.loss = torch::binary_cross_entropy_with_logits(z, y).item<double>();
  r.acc = ((z >= 0).to(torch::kFloat) == y).to(torch::kFloat).mean().item<double>();
  r.share1 = (z >= 0).to(torch::kFloat).mean().item<double>();
  r.auc = roc_auc(logits, d.y);
  m->train();
  return r;
}

int main(int argc, char** argv) {
  std::string train_dir, test_dir, classes_arg = "happy,sad", init = "keras";
  int epochs = 15, threads = 2;
  int64_t batch = 64, subset = 0;
  double lr = 1e-3, val_frac = 0.1, test_frac = 0, blur_test = 0;
  uint64_t seed = 1;
  bool hflip = true;
  for (int i = 1; i + 1 < argc || (i < argc && std::string(argv[i]) == "--no-flip"); ++i) {
    const std::string a = argv[i];
    if (a == "--no-flip") {
      hflip = false;
      continue;
    }
    const std::string v = argv[++i];
    if (a == "--train")
      train_dir = v;
    else if (a == "--test")
      test_dir = v;
    else if (a == "--classes")
      classes_arg = v;
    else if (a == "--epochs")
      epochs = std::stoi(v);
    else if (a == "--batch")
      batch = std::stoll(v);
    else if (a == "--lr")
      lr = std::stod(v);
    else if (a == "--val")
      val_frac = std::stod(v);
    else if (a == "--test-frac")
      test_frac = std::stod(v);
    else if (a == "--seed")
      seed = std::stoull(v);
    else if (a == "--subset")
      subset = std::stoll(v);
    else if (a == "--threads")
      threads = std::stoi(v);
    else if (a == "--init")
      init = v;
    else if (a == "--blur-test")
      blur_test = std::stod(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (train_dir.empty()) {
    std::fprintf(stderr,
                 "usage: fer_cnn_libtorch --train DIR [--test DIR] [--classes happy,sad] "
                 "[--epochs 15] [--batch 64] [--lr 1e-3] [--val 0.1] [--test-frac F] [--seed 1] "
                 "[--subset N] "
                 "[--threads 2] [--init keras|torch] [--blur-test SIGMA] [--no-flip]\n");
    return 2;
  }
  torch::set_num_threads(threads);
  torch::manual_seed(seed);
  std::vector<std::string> classes;
  std::stringstream ss(classes_arg);
  for (std::string c; std::getline(ss, c, ',');) classes.push_back(c);

  Data all, test, test_blur;
  load_folder(train_dir, classes, all);
  if (!test_dir.empty()) load_folder(test_dir, classes, test);
  // Stratified: per class, shuffle, the first test_frac to test (only without a test folder), the
  // next val_frac to validation; optional training subset.
  std::mt19937_64 rng(seed * 7919 + 17);
  std::vector<int64_t> tr, va, te;
  for (size_t k = 0; k < classes.size(); ++k) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < all.n(); ++i)
      if (all.y[static_cast<size_t>(i)] == float(k)) idx.push_back(i);
    std::shuffle(idx.begin(), idx.end(), rng);
    const auto nt =
        static_cast<int64_t>(test.n() == 0 ? std::llround(test_frac * double(idx.size())) : 0);
    const auto nv = static_cast<int64_t>(std::llround(val_frac * double(idx.size())));
    te.insert(te.end(), idx.begin(), idx.begin() + nt);
    va.insert(va.end(), idx.begin() + nt, idx.begin() + nt + nv);
    tr.insert(tr.end(), idx.begin() + nt + nv, idx.end());
  }
  std::shuffle(tr.begin(), tr.end(), rng);
  if (subset > 0 && subset < int64_t(tr.size())) tr.resize(static_cast<size_t>(subset));
  const Data train = take(all, tr), val = take(all, va);
  if (!te.empty()) test = take(all, te);
  double prior = 0;
  for (float v : train.y) prior += v;
  prior /= double(train.n());
  std::printf(
      "images: %lld train (class-1 share %.3f, prior loss %.4f), %lld validation, %lld test\n",
      static_cast<long long>(train.n()), prior,
      -(prior * std::log(prior) + (1 - prior) * std::log(1 - prior)),
      static_cast<long long>(val.n()), static_cast<long long>(test.n()));
  if (blur_test > 0) {
    test_blur = test;
    gaussian_blur(test_blur, blur_test);
  }

  FerCnn model;
  if (init == "keras") keras_init(*model);
  torch::optim::Adam adam(model->parameters(),
                          torch::optim::AdamOptions(lr).betas({0.9, 0.999}).eps(1e-7));
  model->train();
  std::vector<float> xb(static_cast<size_t>(batch * 2304)), yb(static_cast<size_t>(batch));
  std::uniform_real_distribution<float> u(0, 1);
  double best_val = -1;
  int best_epoch = 0;
  Scores best_test{};
  for (int e = 1; e <= epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> order(static_cast<size_t>(train.n()));
    for (int64_t i = 0; i < train.n(); ++i) order[static_cast<size_t>(i)] = i;
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0, correct = 0;
    for (int64_t b0 = 0; b0 < train.n(); b0 += batch) {
      const int64_t b = std::min(batch, train.n() - b0);
      for (int64_t i = 0; i < b; ++i) {
        const int64_t k = order[static_cast<size_t>(b0 + i)];
        const float* src = train.x.data() + k * 2304;
        float* dst = xb.data() + i * 2304;
        const bool flip = hflip && u(rng) < 0.5f;
        for (int y = 0; y < 48; ++y)
          for (int x = 0; x < 48; ++x) dst[y * 48 + x] = src[y * 48 + (flip ? 47 - x : x)];
        yb[static_cast<size_t>(i)] = train.y[static_cast<size_t>(k)];
      }
      auto x = torch::from_blob(xb.data(), {b, 1, 48, 48});
      auto y = torch::from_blob(yb.data(), {b});
      auto z = model->forward(x);
      auto loss = torch::binary_cross_entropy_with_logits(z, y);
      adam.zero_grad();
      loss.backward();
      adam.step();
      loss_sum += loss.item<double>() * double(b);
      correct += ((z >= 0).to(torch::kFloat) == y).to(torch::kFloat).sum().item<double>();
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("epoch %2d %6.1fs loss %.4f acc %.4f", e, secs, loss_sum / double(train.n()),
                correct / double(train.n()));
    const Scores v = val.n() ? score(model, val) : Scores{};
    if (val.n()) std::printf(" | val loss %.4f acc %.4f", v.loss, v.acc);
    Scores t{};
    if (test.n()) {
      t = score(model, test);
      std::printf(" | test loss %.4f acc %.4f auc %.3f class1 %.3f", t.loss, t.acc, t.auc,
                  t.share1);
    }
    if (test_blur.n()) {
      const Scores tb = score(model, test_blur);
      std::printf(" | blurred test acc %.4f auc %.3f class1 %.3f", tb.acc, tb.auc, tb.share1);
    }
    std::printf("\n");
    std::fflush(stdout);
    if (v.acc > best_val) best_val = v.acc, best_epoch = e, best_test = t;
  }
  if (val.n() && test.n())
    std::printf("best val acc %.4f at epoch %d: test acc %.4f auc %.3f class1 %.3f\n", best_val,
                best_epoch, best_test.acc, best_test.auc, best_test.share1);
  return 0;
}
