// `moodnet tune`: seed 004's attempt 4 as one command. A seeded random search over its Keras
// Tuner space (ARCHITECTURES.md: conv1 and conv2 filters in {16, 32, 48, 64}, dense units in
// {128, 256, 384, 512}, learning rate in {1e-2, 1e-3, 1e-4}; C v, MP, C v, MP, Flatten, D, D1),
// each trial trained with Adam and scored, as RandomSearch(objective='val_accuracy') scores it,
// by its best epoch's validation accuracy on a stratified split. The best trial's model (its
// best epoch's weights) is saved.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <optional>
#include <set>
#include <tuple>

#include "common.hpp"

namespace moodnet::cli {

namespace {

struct Trial {
  int index = 0;  // 1-based
  int64_t conv1 = 0, conv2 = 0, dense = 0;
  double lr = 0;
  double val_accuracy = 0;  // the best epoch's
  int epoch = 0;            // 1-based best epoch
  double seconds = 0;
  nlohmann::json to_json() const {
    return {{"trial", index}, {"conv1", conv1},    {"conv2", conv2},
            {"dense", dense}, {"lr", lr},          {"val_accuracy", val_accuracy},
            {"epoch", epoch}, {"seconds", seconds}};
  }
};

// n combinations drawn uniformly from the counter RNG keyed by seed, none twice (Keras Tuner's
// RandomSearch skips repeats too) until all 4 * 4 * 4 * 3 = 192 are used.
std::vector<Trial> draw_trials(int n, uint64_t seed) {
  constexpr int64_t filters[] = {16, 32, 48, 64};
  constexpr int64_t units[] = {128, 256, 384, 512};
  constexpr double rates[] = {1e-2, 1e-3, 1e-4};
  constexpr uint64_t space = 4 * 4 * 4 * 3;
  std::vector<Trial> out;
  std::set<uint64_t> seen;
  for (uint64_t draw = 0; static_cast<int>(out.size()) < n && seen.size() < space; ++draw) {
    const uint64_t c = random_bits(seed, stream_id(0x7e5e, 4), draw) % space;
    if (!seen.insert(c).second) continue;
    Trial t;
    t.index = static_cast<int>(out.size()) + 1;
    t.conv1 = filters[c % 4];
    t.conv2 = filters[c / 4 % 4];
    t.dense = units[c / 16 % 4];
    t.lr = rates[c / 64];
    out.push_back(t);
  }
  return out;
}

void print_table(const std::vector<Trial>& trials, int best) {
  std::printf("\n%5s %6s %6s %6s %8s %8s %6s %8s\n", "trial", "conv1", "conv2", "dense", "lr",
              "val_acc", "epoch", "seconds");
  for (const Trial& t : trials)
    std::printf("%5d %6lld %6lld %6lld %8.0e %8.4f %6d %8.1f%s\n", t.index,
                static_cast<long long>(t.conv1), static_cast<long long>(t.conv2),
                static_cast<long long>(t.dense), t.lr, t.val_accuracy, t.epoch, t.seconds,
                t.index == best ? "  <- best" : "");
}

}  // namespace

int run_tune(const TuneArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  const DataLayout layout = resolve_layout(a.data);
  const InputSpec input = resolve_input({150, 150, 3}, a.image_size, a.color);
  const Shape in = input.shape;

  const ImageFolder folder = scan_image_folder(layout.train_dir, split_list(a.classes));
  const int64_t k = static_cast<int64_t>(folder.class_names.size());
  MOODNET_CHECK(k == 2, "moodnet tune handles two classes (happy vs sad); ", a.data, " has ", k,
                " — pick two with --classes");
  const Split split = stratified_split(folder.labels, a.val_split, 0.0, a.seed);
  ImageDataset train(folder, split.train, in[0], in[1], input.color);
  ImageDataset val(folder, split.validation, in[0], in[1], input.color);
  print_skipped(train);
  print_skipped(val);
  MOODNET_CHECK(val.size() > 0 && train.size() > 0, "moodnet tune: ", a.data, " gives ",
                train.size(), " training and ", val.size(),
                " validation images; it needs both (--val-split)");
  std::cout << "tune: " << a.trials << " trials x " << a.epochs << " epochs, seed004-attempt4 at "
            << in[0] << "x" << in[1] << "x" << in[2] << ", Adam, batch " << a.batch << "; "
            << train.size() << " train, " << val.size() << " validation images (classes "
            << folder.class_names[0] << ", " << folder.class_names[1] << ")\n";

  std::vector<Trial> trials = draw_trials(a.trials, a.seed);
  const size_t planned = trials.size();  // fewer than asked when the space runs out
  std::optional<Model<Cpu>> best_model;
  int best = 0;
  const Loss loss = Loss::binary_crossentropy();
  std::signal(SIGINT, [](int) { stop_requested = true; });
  const auto start = std::chrono::steady_clock::now();
  size_t done = 0;
  for (Trial& t : trials) {
    if (stop_requested) break;
    Model<Cpu> model = zoo::seed004_attempt4<Cpu>(t.conv1, t.conv2, t.dense, a.seed, in);
    auto optimizer = make_optimizer<Cpu>("adam", {{"learning_rate", t.lr}});
    FitOptions opt;
    opt.epochs = a.epochs;
    opt.batch_size = a.batch;
    opt.seed = a.seed;
    opt.validation = &val;
    opt.verbose = 0;
    opt.stop_requested = &stop_requested;
    EarlyStopping<Cpu> keep(
        {.monitor = "val_accuracy", .patience = a.epochs + 1, .restore_best_weights = true});
    const auto t0 = std::chrono::steady_clock::now();
    const History h = fit(model, *optimizer, loss, train, opt, {&keep});
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (h.epochs() == 0) break;  // interrupted before an epoch ended
    t.val_accuracy = keep.best();
    t.epoch = keep.best_epoch() + 1;
    ++done;
    std::printf(
        "trial %d/%d: conv1 %lld, conv2 %lld, dense %lld, lr %.0e -> val_accuracy %.4f "
        "(epoch %d, %.1f s)\n",
        t.index, static_cast<int>(planned), static_cast<long long>(t.conv1),
        static_cast<long long>(t.conv2), static_cast<long long>(t.dense), t.lr, t.val_accuracy,
        t.epoch, t.seconds);
    std::fflush(stdout);
    if (!best_model || t.val_accuracy > trials[static_cast<size_t>(best - 1)].val_accuracy) {
      best = t.index;
      best_model = std::move(model);
    }
  }
  trials.resize(done);
  MOODNET_CHECK(best_model.has_value(), "moodnet tune: stopped before the first trial ended");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (done < planned) std::cout << "stopped after " << done << " of " << planned << " trials\n";
  print_table(trials, best);

  const Trial& b = trials[static_cast<size_t>(best - 1)];
  set_image_metadata(*best_model, folder.class_names, input.color);
  best_model->metadata()["arch"] = "seed004-attempt4";
  best_model->metadata()["tune"] = b.to_json().get<Value>();
  save_model(*best_model, a.out);
  std::printf(
      "best: trial %d (conv1 %lld, conv2 %lld, dense %lld, lr %.0e), val_accuracy %.4f; "
      "%.1f s in all\nsaved %s\n",
      b.index, static_cast<long long>(b.conv1), static_cast<long long>(b.conv2),
      static_cast<long long>(b.dense), b.lr, b.val_accuracy, seconds, a.out.c_str());

  nlohmann::json result = {{"trials", nlohmann::json::array()},
                           {"best", b.to_json()},
                           {"seconds", seconds},
                           {"model", a.out}};
  for (const Trial& t : trials) result["trials"].push_back(t.to_json());
  // A separate test folder (DIR/test) scores the chosen model once, after the search.
  if (!layout.test_dir.empty()) {
    const ImageFolder test_folder = scan_image_folder(layout.test_dir, folder.class_names);
    std::vector<int64_t> all(test_folder.files.size());
    std::iota(all.begin(), all.end(), 0);
    ImageDataset test(test_folder, all, in[0], in[1], input.color);
    print_skipped(test);
    if (test.size() > 0) {
      const ClassifierEvaluation e = evaluate_classifier(*best_model, test, folder.class_names);
      std::cout << "\ntest set (" << e.report.n << " images)\n" << e.report.to_string();
      std::printf("ROC AUC %.3f\n", e.auc);
      result["test"] = e.report.to_json();
      result["test"]["auc"] = e.auc;
    }
  }
  if (a.json) std::cout << result.dump() << "\n";
  return 0;
}

}  // namespace moodnet::cli
