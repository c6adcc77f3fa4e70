// Checks what `moodnet train --protocol fer-best` feeds fer-cnn in its first epoch: the batches
// ImageDataset and shuffled_indices give fit(), compared sample by sample with the cached pixels of
// the sample's file (each must be those pixels / 255, flipped left-right or not) and with the
// label of the file's folder. A one-off check behind docs/ACCURACY.md's fer-cnn section; not
// part of the CMake build or the tests. Build (after building moodnet::compiled in build/x):
//   g++ -O2 -std=c++20 -fopenmp -Iinclude bench/fer_batch_check.cpp build/x/libmoodnet.a -lstb
//     -o build/fer_batch_check
// and run: build/fer_batch_check ../shared/data/fer2013/train
#include <cmath>
#include <cstdio>
#include <moodnet/moodnet.hpp>
#include <string>

using namespace moodnet;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fer_batch_check FER2013_TRAIN_DIR [SEED=1] [SPLIT_SEED=42]\n");
    return 2;
  }
  const uint64_t seed = argc > 2 ? std::stoull(argv[2]) : 1;
  const uint64_t split_seed = argc > 3 ? std::stoull(argv[3]) : 42;
  // fer-best: 48x48 grayscale, batch 64, hflip, 10 % held out (stratified).
  const ImageFolder folder = scan_image_folder(argv[1], {"happy", "sad"});
  const Split split = stratified_split(folder.labels, 0.1, 0.0, split_seed);
  ImageDatasetOptions o{.height = 48, .width = 48, .color_mode = ColorMode::grayscale};
  o.augmentation = parse_augmentation("hflip");
  o.augment_seed = seed;
  ImageDataset train(folder, split.train, o);
  const int64_t batch = 64, per = 48 * 48;
  const std::vector<int64_t> order = shuffled_indices(train.size(), seed, 0);
  Tensor<Cpu> x, y;
  int64_t same = 0, flipped = 0, neither = 0, wrong_label = 0, ones = 0, n = 0;
  for (int64_t b0 = 0; b0 < train.size(); b0 += batch) {
    const int64_t b = std::min(batch, train.size() - b0);
    std::span<const int64_t> idx(order.data() + b0, static_cast<size_t>(b));
    train.load_batch(idx, 0, x, y);
    for (int64_t i = 0; i < b; ++i) {
      const int64_t k = idx[static_cast<size_t>(i)];
      const auto px = train.pixels(k);
      bool eq = true, eqf = true;
      for (int r = 0; r < 48; ++r)
        for (int c = 0; c < 48; ++c) {
          const float v = x.data()[i * per + r * 48 + c] * 255.0f;
          eq = eq && std::abs(v - px[static_cast<size_t>(r * 48 + c)]) < 0.01f;
          eqf = eqf && std::abs(v - px[static_cast<size_t>(r * 48 + 47 - c)]) < 0.01f;
        }
      same += eq;
      flipped += !eq && eqf;
      neither += !eq && !eqf;
      const std::string path = train.path(k).string();
      const int want = path.find("/sad/") != std::string::npos ? 1 : 0;
      wrong_label += static_cast<int>(y.data()[i]) != want;
      ones += static_cast<int>(y.data()[i]);
      ++n;
    }
  }
  std::printf(
      "%lld samples in %lld batches: %lld as decoded, %lld flipped, %lld neither; %lld labels not "
      "their folder's; sad share %.3f\n",
      static_cast<long long>(n), static_cast<long long>((train.size() + batch - 1) / batch),
      static_cast<long long>(same), static_cast<long long>(flipped),
      static_cast<long long>(neither), static_cast<long long>(wrong_label),
      double(ones) / double(n));
  return neither == 0 && wrong_label == 0 ? 0 : 1;
}
