// seed004-attempt3 in libtorch: an independent reference for moodnet's `--protocol seed004`
// runs (docs/ACCURACY.md, seed004-attempt3 section; issue 5: "the same architecture,
// initialisation and protocol must land within the libtorch spread").
//
// Not part of the library, its tests or its CMake build. It trains on the very tensors moodnet
// trains on (written by bench/export_split.cpp: the same files, split, decoding and resizing),
// so the only differences are the framework's kernels, its random numbers and its shuffling.
// Build and run with scripts/attempt3-libtorch.sh (Debian: apt-get install libtorch-dev).
//
// Recipe (ARCHITECTURES.md, seed004-attempt3; Keras semantics): 150x150x3 in [0, 1]; Conv 16 3x3
// valid, MaxPool 2 'same', Conv 64 3x3 same, MaxPool 'same', Conv 64 same, MaxPool 'same',
// Conv 32 same, MaxPool 'same' (ReLU after each conv), Flatten (3200), Dense 256 ReLU, Dense 1
// (a logit; binary cross-entropy with logits = sigmoid + binary cross-entropy). Keras' 'same'
// 2x2/2 pooling of an odd size is PyTorch's ceil_mode. Glorot-uniform kernels, zero biases
// (Keras' defaults), Adam 1e-3 with Keras' epsilon 1e-7, batch 16, 20 epochs, shuffled every
// epoch, the last epoch's weights scored on the test part (threshold 0.5).
//
//   attempt3_libtorch PREFIX FIRST_SEED LAST_SEED [EPOCHS]
// prints one line per seed: test accuracy, ROC AUC, final training loss, seconds.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

struct Part {
  torch::Tensor x, y;  // x: (n, 3, h, w), y: (n, 1)
};

static Part read_part(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  int64_t hdr[4];
  if (!f.read(reinterpret_cast<char*>(hdr), sizeof hdr)) throw std::runtime_error("read " + path);
  const int64_t n = hdr[0], h = hdr[1], w = hdr[2], c = hdr[3];
  std::vector<float> x(static_cast<size_t>(n * h * w * c)), y(static_cast<size_t>(n));
  f.read(reinterpret_cast<char*>(x.data()), std::streamsize(x.size() * sizeof(float)));
  f.read(reinterpret_cast<char*>(y.data()), std::streamsize(y.size() * sizeof(float)));
  if (!f) throw std::runtime_error("short file " + path);
  Part p;
  p.x = torch::from_blob(x.data(), {n, h, w, c}).permute({0, 3, 1, 2}).contiguous().clone();
  p.y = torch::from_blob(y.data(), {n, 1}).clone();
  return p;
}

struct Attempt3Impl : torch::nn::Module {
  torch::nn::Conv2d c1{torch::nn::Conv2dOptions(3, 16, 3)};
  torch::nn::Conv2d c2{torch::nn::Conv2dOptions(16, 64, 3).padding(1)};
  torch::nn::Conv2d c3{torch::nn::Conv2dOptions(64, 64, 3).padding(1)};
  torch::nn::Conv2d c4{torch::nn::Conv2dOptions(64, 32, 3).padding(1)};
  torch::nn::Linear d1{32 * 10 * 10, 256}, d2{256, 1};
  Attempt3Impl() {
    register_module("c1", c1);
    register_module("c2", c2);
    register_module("c3", c3);
    register_module("c4", c4);
    register_module("d1", d1);
    register_module("d2", d2);
    for (auto& p : named_parameters()) {
      if (p.key().find("weight") != std::string::npos)
        torch::nn::init::xavier_uniform_(p.value());
      else
        torch::nn::init::zeros_(p.value());
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto pool = [](const torch::Tensor& t) {
      return torch::max_pool2d(t, {2, 2}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/true);
    };
    x = pool(torch::relu(c1(x)));  // 148 -> 74
    x = pool(torch::relu(c2(x)));  // 74 -> 37
    x = pool(torch::relu(c3(x)));  // 37 -> 19
    x = pool(torch::relu(c4(x)));  // 19 -> 10
    x = torch::relu(d1(x.flatten(1)));
    return d2(x);  // logit
  }
};
TORCH_MODULE(Attempt3);

static double roc_auc(const std::vector<float>& score, const std::vector<float>& truth) {
  double pairs = 0, wins = 0;
  for (size_t i = 0; i < score.size(); ++i)
    for (size_t j = 0; j < score.size(); ++j)
      if (truth[i] > 0.5f && truth[j] < 0.5f) {
        pairs += 1;
        wins += score[i] > score[j] ? 1.0 : score[i] == score[j] ? 0.5 : 0.0;
      }
  return pairs > 0 ? wins / pairs : 0.0;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: attempt3_libtorch PREFIX FIRST_SEED LAST_SEED [EPOCHS]\n");
    return 2;
  }
  const std::string prefix = argv[1];
  const int first = std::atoi(argv[2]), last = std::atoi(argv[3]);
  const int epochs = argc > 4 ? std::atoi(argv[4]) : 20;
  // libtorch's intra-op thread count follows OMP_NUM_THREADS, as moodnet's does.
  if (const char* t = std::getenv("OMP_NUM_THREADS"); t && std::atoi(t) > 0)
    torch::set_num_threads(std::atoi(t));
  const Part train = read_part(prefix + ".train.bin"), test = read_part(prefix + ".test.bin");
  const int64_t n = train.x.size(0), batch = 16;
  std::printf("libtorch %s, %d thread(s); train %lld, test %lld images\n", TORCH_VERSION,
              torch::get_num_threads(), static_cast<long long>(n),
              static_cast<long long>(test.x.size(0)));
  for (int seed = first; seed <= last; ++seed) {
    torch::manual_seed(static_cast<uint64_t>(seed));
    Attempt3 model;
    torch::optim::Adam opt(model->parameters(),
                           torch::optim::AdamOptions(1e-3).betas({0.9, 0.999}).eps(1e-7));
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    const auto t0 = std::chrono::steady_clock::now();
    double epoch_loss = 0;
    for (int e = 0; e < epochs; ++e) {
      model->train();
      std::shuffle(order.begin(), order.end(), rng);
      double loss_sum = 0;
      for (int64_t b = 0; b < n; b += batch) {
        const int64_t m = std::min(batch, n - b);
        const auto idx = torch::from_blob(order.data() + b, {m}, torch::kLong).clone();
        const auto x = train.x.index_select(0, idx), y = train.y.index_select(0, idx);
        opt.zero_grad();
        const auto loss = torch::binary_cross_entropy_with_logits(model->forward(x), y);
        loss.backward();
        opt.step();
        loss_sum += loss.item<double>() * double(m);
      }
      epoch_loss = loss_sum / double(n);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    model->eval();
    torch::NoGradGuard no_grad;
    const auto p = torch::sigmoid(model->forward(test.x)).contiguous();
    std::vector<float> score(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    const auto yt = test.y.contiguous();
    std::vector<float> truth(yt.data_ptr<float>(), yt.data_ptr<float>() + yt.numel());
    int correct = 0;
    for (size_t i = 0; i < score.size(); ++i) correct += (score[i] >= 0.5f) == (truth[i] > 0.5f);
    std::printf("seed %d: test accuracy %.4f  auc %.4f  final train loss %.4f  %.1f s\n", seed,
                double(correct) / double(score.size()), roc_auc(score, truth), epoch_loss, seconds);
    std::fflush(stdout);
  }
  return 0;
}
