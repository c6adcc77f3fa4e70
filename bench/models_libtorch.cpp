// libtorch's side of issue 3's whole-model targets: seed002 and seed004-attempt3 timed the way
// bench/bench_models.cpp times moodnet (BM_TrainStep: batch 32, forward, loss, backward, Adam;
// BM_Predict: batch 32 and batch 1), so the two can be run in the same session and compared as
// a ratio (docs/PERFORMANCE.md, "Whole models against libtorch").
//
// Not part of the library, its tests or its CMake build. Build and run with
// scripts/models-libtorch.sh (Debian: apt-get install libtorch-dev). libtorch's intra-op
// thread count follows OMP_NUM_THREADS, as moodnet's does. Layout NCHW, libtorch's default.
//
//   models_libtorch [REPS] [--channels-last]
// prints one line per model and pass: the median over REPS (default 10) timed runs of the
// milliseconds per batch, and images per second. --channels-last stores the input and the conv
// kernels NHWC (libtorch's faster layout for oneDNN convolutions on this CPU).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

// Keras' 'same' 2x2/2 pooling of an odd size is PyTorch's ceil_mode; 'valid' floors.
torch::Tensor pool(const torch::Tensor& t, bool same) {
  return torch::max_pool2d(t, {2, 2}, {2, 2}, {0, 0}, {1, 1}, same);
}

// A stack of 3x3 convs, each followed by ReLU and a 2x2 max-pool, then Dense 256 ReLU and Dense 1
// (a logit). `pad[i]`: conv i is 'same' (padding 1) rather than 'valid'.
struct PlainCnnImpl : torch::nn::Module {
  std::vector<torch::nn::Conv2d> convs;
  torch::nn::Linear d1{nullptr}, d2{nullptr};
  bool same_pool;
  PlainCnnImpl(const std::vector<int64_t>& filters, const std::vector<int>& pad, int64_t flat,
               bool same_pool_)
      : same_pool(same_pool_) {
    int64_t c = 3;
    for (size_t i = 0; i < filters.size(); ++i) {
      convs.push_back(register_module(
          "c" + std::to_string(i),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(c, filters[i], 3).padding(pad[i]))));
      c = filters[i];
    }
    d1 = register_module("d1", torch::nn::Linear(flat, 256));
    d2 = register_module("d2", torch::nn::Linear(256, 1));
  }
  torch::Tensor forward(torch::Tensor x) {
    for (auto& conv : convs) x = pool(torch::relu(conv(x)), same_pool);
    return d2(torch::relu(d1(x.flatten(1))));
  }
};
TORCH_MODULE(PlainCnn);

struct Arch {
  std::string name;
  int64_t size;
  std::function<PlainCnn()> make;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median milliseconds of one call of `step` over `reps` timed runs of `inner` calls each.
double time_ms(const std::function<void()>& step, int reps, int inner) {
  for (int i = 0; i < 3; ++i) step();  // warm-up: allocations, first touch
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < inner; ++i) step();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
        inner);
  }
  return median(ms);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  const bool channels_last = argc > 2 && std::string(argv[2]) == "--channels-last";
  const auto layout =
      channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  if (const char* t = std::getenv("OMP_NUM_THREADS"); t && std::atoi(t) > 0)
    torch::set_num_threads(std::atoi(t));
  std::printf("libtorch %s, %d thread(s), %s, median of %d runs\n", TORCH_VERSION,
              torch::get_num_threads(), channels_last ? "channels-last" : "NCHW", reps);
  const std::vector<Arch> archs = {
      // 256 -> 254 -> 127 -> 125 -> 62 -> 60 -> 30 -> 28 -> 14: Flatten 14*14*32 = 6272
      {"seed002", 256,
       [] {
         return PlainCnn(std::vector<int64_t>{16, 32, 64, 32}, std::vector<int>{0, 0, 0, 0}, 6272,
                         false);
       }},
      // 150 -> 148 -> 74 -> 37 -> 19 -> 10: Flatten 10*10*32 = 3200
      {"seed004-attempt3", 150,
       [] {
         return PlainCnn(std::vector<int64_t>{16, 64, 64, 32}, std::vector<int>{0, 1, 1, 1}, 3200,
                         true);
       }},
  };
  torch::manual_seed(1);
  for (const Arch& a : archs) {
    PlainCnn model = a.make();
    for (auto& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(layout));
    torch::optim::Adam adam(model->parameters(),
                            torch::optim::AdamOptions(1e-3).betas({0.9, 0.999}).eps(1e-7));
    const torch::Tensor x = torch::rand({32, 3, a.size, a.size}).contiguous(layout);
    const torch::Tensor y = (torch::arange(32) % 2).to(torch::kFloat).reshape({32, 1});
    model->train();
    const double train_ms = time_ms(
        [&] {
          adam.zero_grad();
          torch::binary_cross_entropy_with_logits(model->forward(x), y).backward();
          adam.step();
        },
        reps, 3);
    std::printf("%-18s train_step batch 32  %8.2f ms  %7.1f images/s\n", a.name.c_str(), train_ms,
                32e3 / train_ms);
    model->eval();
    torch::NoGradGuard no_grad;
    for (int64_t batch : {32, 1}) {
      const torch::Tensor xb = x.narrow(0, 0, batch).contiguous(layout);
      const double ms =
          time_ms([&] { torch::sigmoid(model->forward(xb)); }, reps, batch == 1 ? 50 : 5);
      std::printf("%-18s predict    batch %-3lld %8.2f ms  %7.1f images/s\n", a.name.c_str(),
                  static_cast<long long>(batch), ms, double(batch) * 1e3 / ms);
    }
  }
}
