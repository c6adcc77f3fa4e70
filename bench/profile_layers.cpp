// Where a training step's time goes, layer by layer: forward_train and backward of each layer of a
// sequential zoo model on random data, plus the loss, the L2 penalty and Adam, as fit() runs them.
// Medians over --reps steps (after two warm-up steps), in milliseconds, and each row's share.
// A layer that Model::forward/backward run together with the max pool after it
// (Layer::forward_train_max_pooled) is timed so too, on the layer's row (the pool's reads
// "fused"); --apart 1 drives every layer on its own.
//
//   profile_layers [--arch fer-cnn] [--batch 64] [--reps 10] [--apart 0|1]
// threads: OMP_NUM_THREADS.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <moodnet/moodnet.hpp>
#include <string>
#include <vector>

namespace {

using namespace moodnet;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string arch = "fer-cnn";
  int64_t batch = 64;
  int reps = 10;
  bool apart = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--arch")
      arch = argv[i + 1];
    else if (a == "--batch")
      batch = std::atoll(argv[i + 1]);
    else if (a == "--reps")
      reps = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--apart")
      apart = std::atoi(argv[i + 1]) != 0;
    else {
      std::fprintf(stderr,
                   "usage: profile_layers [--arch A] [--batch N] [--reps R] [--apart 0|1]\n");
      return 2;
    }
  }
  Model<Cpu> model = zoo::build<Cpu>(arch, 1);
  if (!model.is_sequential()) {
    std::fprintf(stderr, "profile_layers: %s is not sequential\n", arch.c_str());
    return 2;
  }
  const size_t L = model.num_layers();
  Shape s{batch};
  for (int64_t d : model.input_shape().dims()) s.push_back(d);
  Tensor<Cpu> x(s);
  for (int64_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(random_uniform(2, 7, static_cast<uint64_t>(i)));
  Tensor<Cpu> labels(model.output_shape().with_batch(batch));
  for (int64_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 2);
  const Loss loss = Loss::binary_crossentropy();
  Adam<Cpu> adam({.learning_rate = 1e-3});
  auto params = model.trainable_parameters();
  model.zero_grad();

  std::vector<Tensor<Cpu>> outs(L), grads(L);
  Tensor<Cpu> dy_top;
  // fwd[i], bwd[i] per layer; then loss, l2, adam.
  std::vector<std::vector<double>> fwd(L), bwd(L);
  std::vector<double> t_loss, t_l2, t_adam, t_step;
  std::vector<bool> fused(L, false);  // layer i ran with the pool i + 1 (as Model::forward)
  const cpu::ScopedFlushDenormals flush_denormals;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  for (int r = 0; r < reps + 2; ++r) {
    const bool keep = r >= 2;
    const TrainStep step{3, static_cast<uint64_t>(r)};
    const auto s0 = Clock::now();
    for (size_t i = 0; i < L; ++i) {
      const Tensor<Cpu>* in = i == 0 ? &x : &outs[i - 1];
      const Tensor<Cpu>* ins[] = {in};
      const auto t0 = Clock::now();
      if (!apart && i + 1 < L)
        if (const auto pool =
                model.layer(i + 1).max_pool_geometry(model.layer_output_shape(i).with_batch(batch)))
          if (model.layer(i).forward_train_max_pooled(ins, *pool, outs[i + 1], step)) {
            fused[i] = true;
            if (keep) fwd[i].push_back(ms(t0, Clock::now())), fwd[i + 1].push_back(0);
            ++i;
            continue;
          }
      model.layer(i).forward_train(ins, outs[i], step);
      if (keep) fwd[i].push_back(ms(t0, Clock::now()));
    }
    auto t0 = Clock::now();
    // The model's own loss path needs its forward(); recompute the gradient the same way here.
    const LossResult<Cpu> lr = compute_loss(loss, model, outs[L - 1], labels, &dy_top);
    (void)lr;
    if (keep) t_loss.push_back(ms(t0, Clock::now()));
    const Tensor<Cpu>* dy = &dy_top;
    // As Model::backward: a ReLU folded into the next layer's backward is not applied twice.
    std::vector<bool> preactivation(L);
    for (size_t i = 0; i < L; ++i)
      preactivation[i] =
          (i == L - 1 && lr.grad_is_preactivation) || model.layer_grad_is_preactivation(i);
    for (size_t i = L; i-- > 0;) {
      if (i >= 1 && fused[i - 1]) {  // the pool's backward and its conv's, as one
        if (keep) bwd[i].push_back(0);
        --i;
      }
      const Tensor<Cpu>* in = i == 0 ? &x : &outs[i - 1];
      const Tensor<Cpu>* ins[] = {in};
      Tensor<Cpu>* dxs[] = {i == 0 ? nullptr : &grads[i]};
      t0 = Clock::now();
      if (fused[i])
        model.layer(i).backward_max_pooled(ins, *dy, dxs);
      else
        model.layer(i).backward(ins, outs[i], *dy, dxs, preactivation[i]);
      if (keep) bwd[i].push_back(ms(t0, Clock::now()));
      dy = &grads[i];
    }
    t0 = Clock::now();
    volatile double pen = detail::l2_penalty(model);
    (void)pen;
    if (keep) t_l2.push_back(ms(t0, Clock::now()));
    t0 = Clock::now();
    adam.step(params);
    if (keep) t_adam.push_back(ms(t0, Clock::now()));
    if (keep) t_step.push_back(ms(s0, Clock::now()));
  }
  double total = 0;
  for (size_t i = 0; i < L; ++i) total += median(fwd[i]) + median(bwd[i]);
  total += median(t_loss) + median(t_l2) + median(t_adam);
  std::printf("# %s, batch %lld, %s, %d thread(s), medians of %d steps (ms)\n", arch.c_str(),
              static_cast<long long>(batch), cpu::to_string(cpu::active_isa()), num_threads(),
              reps);
  std::printf("%-28s %-22s %9s %9s %7s\n", "layer", "output", "forward", "backward", "share");
  for (size_t i = 0; i < L; ++i) {
    const double f = median(fwd[i]), b = median(bwd[i]);
    if (i >= 1 && fused[i - 1]) {
      std::printf("%-28s %-22s %9s %9s\n",
                  (model.layer(i).name() + " (" + model.layer(i).type() + ")").c_str(),
                  model.layer_output_shape(i).to_string(true).c_str(), "fused", "fused");
      continue;
    }
    std::printf("%-28s %-22s %9.2f %9.2f %6.1f%%\n",
                (model.layer(i).name() + " (" + model.layer(i).type() + ")").c_str(),
                model.layer_output_shape(i).to_string(true).c_str(), f, b, 100.0 * (f + b) / total);
  }
  std::printf("%-28s %-22s %9.2f %9s %6.1f%%\n", "loss", "", median(t_loss), "",
              100.0 * median(t_loss) / total);
  std::printf("%-28s %-22s %9.2f %9s %6.1f%%\n", "l2 penalty", "", median(t_l2), "",
              100.0 * median(t_l2) / total);
  std::printf("%-28s %-22s %9.2f %9s %6.1f%%\n", "adam", "", median(t_adam), "",
              100.0 * median(t_adam) / total);
  std::printf("sum of medians %.2f ms; median whole step %.2f ms\n", total, median(t_step));
  return 0;
}
