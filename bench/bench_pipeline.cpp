// The image pipeline on the shared data sets (<repo>/../shared/data, or MOODNET_DATA_DIR).
//
// BM_Pipeline/<dataset>/<size>/cold: the first epoch, images per second: constructing the
//   ImageDataset (reading, decoding and resizing every file into the 8-bit cache) plus one
//   epoch of finished float batches (batch 32, shuffled). "Cold" means not decoded yet: after
//   the first repetition the files sit in the OS page cache.
// BM_Pipeline/<dataset>/<size>/cached: a later epoch: load_batch only (uint8 -> float, and the
//   augmentation where the case has one).
// BM_PipelineFeedsTraining/getty-happy-sad/seed004-attempt3: one training epoch (150x150 RGB,
//   batch 16, Adam 1e-3, the seed004 75 % stratified train split) fed by an ImageDataset (cache
//   on) and the same epoch fed by a TensorDataset holding the very same float tensors,
//   alternating A B / B A in one process; counters image_s and tensor_s (mean seconds per
//   epoch), ratio (of the summed times), ratio_median / _min / _max over the pairs,
//   ratio_of_min (fastest epoch of each; the most robust on a busy machine, where noise only
//   ever adds time), and load_image_ms / load_tensor_ms (the loading alone over one epoch,
//   fastest of 5) with ratio_from_loading, the fastest tensor epoch with its loading swapped for
//   the image loading. The issue asks for <= 1.05. One model trains on both feeds in turn; before
//   timing, two identical models train one epoch each, one per feed, and their losses must agree
//   bitwise (counter same_loss = 1: the feeds deliver the same batches).
// Threads: OMP_NUM_THREADS (the label says how many ran).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <moodnet/moodnet.hpp>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#ifndef MOODNET_SHARED_DATA_DIR
#define MOODNET_SHARED_DATA_DIR "../shared/data"
#endif

namespace {

using namespace moodnet;
namespace fs = std::filesystem;

fs::path data_root() {
  if (const char* e = std::getenv("MOODNET_DATA_DIR"); e && *e) return e;
  return MOODNET_SHARED_DATA_DIR;
}

struct PipelineCase {
  std::string dataset;  // folder under the data root, e.g. "getty-happy-sad/all"
  std::string name;     // benchmark name part, e.g. "getty-happy-sad"
  int64_t height, width;
  ColorMode color;
  std::string augmentation;  // a preset name, or "" for none
};

std::string label(const std::string& extra) {
  return "threads=" + std::to_string(num_threads()) + " " + extra;
}

// The folder, or a skip with the reason when the data is not there.
bool find_folder(benchmark::State& state, const std::string& dataset, ImageFolder& folder) {
  const fs::path dir = data_root() / dataset;
  if (!fs::is_directory(dir)) {
    state.SkipWithError(("data set not found: " + dir.string() +
                         " (the shared data lives at <repo>/../shared/data; set "
                         "MOODNET_DATA_DIR to use another place)")
                            .c_str());
    return false;
  }
  folder = scan_image_folder(dir);
  return true;
}

std::vector<int64_t> iota_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

ImageDatasetOptions options(const PipelineCase& c) {
  ImageDatasetOptions o;
  o.height = c.height;
  o.width = c.width;
  o.color_mode = c.color;
  if (!c.augmentation.empty()) {
    o.augmentation = augmentation_preset(c.augmentation);
    o.augment_seed = 7;
  }
  return o;
}

// One epoch of finished batches of 32 in a shuffled order; returns the number of images.
int64_t deliver_epoch(ImageDataset& ds, uint64_t epoch, Tensor<Cpu>& x, Tensor<Cpu>& y) {
  const std::vector<int64_t> order = shuffled_indices(ds.size(), 3, epoch);
  constexpr int64_t batch = 32;
  for (int64_t b0 = 0; b0 < ds.size(); b0 += batch) {
    const int64_t b1 = std::min(ds.size(), b0 + batch);
    ds.load_batch(std::span<const int64_t>(order.data() + b0, static_cast<size_t>(b1 - b0)), epoch,
                  x, y);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  return ds.size();
}

void BM_PipelineCold(benchmark::State& state, const PipelineCase& c) {
  ImageFolder folder;
  if (!find_folder(state, c.dataset, folder)) return;
  const std::vector<int64_t> idx = iota_indices(folder.size());
  const ImageDatasetOptions opt = options(c);
  Tensor<Cpu> x, y;
  int64_t images = 0, skipped = 0;
  for (auto _ : state) {
    ImageDataset ds(folder, idx, opt);
    images += deliver_epoch(ds, 0, x, y);
    skipped = static_cast<int64_t>(ds.skipped().size());
  }
  state.SetItemsProcessed(images);
  state.counters["files"] = static_cast<double>(folder.size());
  state.counters["skipped"] = static_cast<double>(skipped);
  state.SetLabel(label(std::string(to_string(c.color)) +
                       (c.augmentation.empty() ? "" : " augment=" + c.augmentation)));
}

void BM_PipelineCached(benchmark::State& state, const PipelineCase& c) {
  ImageFolder folder;
  if (!find_folder(state, c.dataset, folder)) return;
  ImageDataset ds(folder, iota_indices(folder.size()), options(c));
  Tensor<Cpu> x, y;
  deliver_epoch(ds, 0, x, y);  // untimed: first touch of the batch buffers
  uint64_t epoch = 1;
  int64_t images = 0;
  for (auto _ : state) images += deliver_epoch(ds, epoch++, x, y);
  state.SetItemsProcessed(images);
  state.counters["images"] = static_cast<double>(ds.size());
  state.SetLabel(label(std::string(to_string(c.color)) +
                       (c.augmentation.empty() ? "" : " augment=" + c.augmentation)));
}

void BM_PipelineFeedsTraining(benchmark::State& state) {
  ImageFolder folder;
  if (!find_folder(state, "getty-happy-sad/all", folder)) return;
  // seed004: stratified 75 / 25 % split, random state 42; 150x150 RGB scaled to [0, 1].
  const Split split = stratified_split(folder.labels, 0.25, 0.0, 42);
  ImageDatasetOptions opt;
  opt.height = opt.width = 150;
  ImageDataset images(folder, split.train, opt);
  Tensor<Cpu> all_x, all_y;
  const std::vector<int64_t> all = iota_indices(images.size());
  images.load_batch(all, 0, all_x, all_y);
  TensorDataset tensors(std::move(all_x), std::move(all_y));

  Model<Cpu> model_a = zoo::build<Cpu>("seed004-attempt3", 1);
  Model<Cpu> model_b = zoo::build<Cpu>("seed004-attempt3", 1);
  Adam<Cpu> adam_a({.learning_rate = 1e-3}), adam_b({.learning_rate = 1e-3});
  const Loss loss = Loss::binary_crossentropy();
  FitOptions fo;
  fo.epochs = 1;
  fo.batch_size = 16;
  fo.seed = 42;
  fo.verbose = 0;
  using clock = std::chrono::steady_clock;
  auto epoch = [&](Model<Cpu>& m, Adam<Cpu>& a, Dataset& d, double& secs) {
    const auto t0 = clock::now();
    const History h = fit(m, a, loss, d, fo);
    secs += std::chrono::duration<double>(clock::now() - t0).count();
    return h["loss"].back();
  };
  // Untimed: one epoch of each model, one per feed. The first epochs allocate every buffer, and
  // identical batches must give bitwise identical training.
  double warm = 0;
  const bool same_loss =
      epoch(model_a, adam_a, images, warm) == epoch(model_b, adam_b, tensors, warm);
  // Timed: one model trains on both feeds in turn (A B, then B A), so that nothing but the feed
  // differs between the two timings. (Timing model_a on images against model_b on tensors had
  // model_b slower in all 7 pairs, ratios 0.62-0.94: two instances can differ, e.g. by where
  // their buffers lie in memory.)
  double image_s = 0, tensor_s = 0;
  std::vector<double> ratios, image_times, tensor_times;  // per pair
  int64_t pairs = 0;
  for (auto _ : state) {
    double ti = 0, tt = 0;
    if (pairs % 2 == 0) {
      epoch(model_a, adam_a, images, ti);
      epoch(model_a, adam_a, tensors, tt);
    } else {
      epoch(model_a, adam_a, tensors, tt);
      epoch(model_a, adam_a, images, ti);
    }
    image_s += ti;
    tensor_s += tt;
    image_times.push_back(ti);
    tensor_times.push_back(tt);
    ratios.push_back(ti / tt);
    ++pairs;
  }
  std::sort(ratios.begin(), ratios.end());
  const double image_min = *std::min_element(image_times.begin(), image_times.end());
  const double tensor_min = *std::min_element(tensor_times.begin(), tensor_times.end());
  // The loading alone, as fit() calls it over one epoch (batches of 16, its shuffled order):
  // the fastest of 5 runs of each feed.
  const std::vector<int64_t> order = shuffled_indices(images.size(), fo.seed, 0);
  auto load_epoch = [&](Dataset& d) {
    Tensor<Cpu> x, y;
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = clock::now();
      for (int64_t b0 = 0; b0 < d.size(); b0 += fo.batch_size) {
        const int64_t b1 = std::min(d.size(), b0 + fo.batch_size);
        d.load_batch(std::span<const int64_t>(order.data() + b0, static_cast<size_t>(b1 - b0)), 0,
                     x, y);
        benchmark::DoNotOptimize(x.data());
      }
      best = std::min(best, std::chrono::duration<double>(clock::now() - t0).count());
    }
    return best;
  };
  const double load_image = load_epoch(images), load_tensor = load_epoch(tensors);
  state.SetItemsProcessed(2 * pairs * images.size());
  state.counters["image_s"] = image_s / static_cast<double>(pairs);
  state.counters["tensor_s"] = tensor_s / static_cast<double>(pairs);
  state.counters["ratio"] = image_s / tensor_s;  // of the summed times
  state.counters["ratio_median"] = ratios[ratios.size() / 2];
  state.counters["ratio_min"] = ratios.front();
  state.counters["ratio_max"] = ratios.back();
  state.counters["image_min_s"] = image_min;
  state.counters["tensor_min_s"] = tensor_min;
  state.counters["ratio_of_min"] = image_min / tensor_min;
  state.counters["load_image_ms"] = 1e3 * load_image;  // per epoch
  state.counters["load_tensor_ms"] = 1e3 * load_tensor;
  // The fastest tensor-fed epoch with the tensor loading swapped for the image loading.
  state.counters["ratio_from_loading"] = (tensor_min - load_tensor + load_image) / tensor_min;
  state.counters["same_loss"] = same_loss ? 1 : 0;
  state.counters["train_images"] = static_cast<double>(images.size());
  state.SetLabel(label("batch 16, pairs of epochs (ImageDataset, TensorDataset)"));
}

const int registered = [] {
  const std::vector<PipelineCase> cases{
      {"getty-happy-sad/all", "getty-happy-sad", 150, 150, ColorMode::rgb, "seed000"},
      {"fer2013/train", "fer2013-train", 48, 48, ColorMode::grayscale, ""},
      {"google-happy-sad/all", "google-happy-sad", 256, 256, ColorMode::rgb, ""}};
  for (const PipelineCase& c : cases) {
    const std::string base =
        "BM_Pipeline/" + c.name + "/" + std::to_string(c.height) + "x" + std::to_string(c.width);
    // A cold epoch takes seconds (google-happy-sad decodes up to 7360x4912 photos): one
    // iteration per repetition, 3 repetitions whatever --benchmark_repetitions says.
    benchmark::RegisterBenchmark((base + "/cold").c_str(),
                                 [c](benchmark::State& s) { BM_PipelineCold(s, c); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1)
        ->Repetitions(3);
    benchmark::RegisterBenchmark((base + "/cached").c_str(),
                                 [c](benchmark::State& s) { BM_PipelineCached(s, c); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_PipelineFeedsTraining/getty-happy-sad/seed004-attempt3",
                               BM_PipelineFeedsTraining)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->Iterations(10)
      ->Repetitions(1);  // 20 epochs already: minutes on a busy 2-core machine
  return 0;
}();

}  // namespace
