// ImageDataset: images of an ImageFolder, decoded and resized once, served as float batches.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "../core/tensor.hpp"
#include "../train/dataset.hpp"
#include "augment.hpp"
#include "folder.hpp"
#include "image.hpp"

namespace moodnet {

struct ImageDatasetOptions {
  int64_t height = 0, width = 0;  // every image is resized (as tf.image.resize) to this
  ColorMode color_mode = ColorMode::rgb;
  // Keras image_dataset_from_directory's interpolation, crop_to_aspect_ratio and (Keras 3)
  // pad_to_aspect_ratio; the default stretches every image to (height, width), bilinear.
  Interpolation interpolation = Interpolation::bilinear;
  bool crop_to_aspect_ratio = false;
  bool pad_to_aspect_ratio = false;
  float scale = 1.0f / 255.0f;  // x = pixel * scale, so [0, 1] by default
  bool strict = false;          // throw on the first unreadable file instead of skipping it
  int64_t max_pixels = default_max_image_pixels;
  // Random warps applied to every batch (training sets only), keyed by (augment_seed, epoch,
  // sample index): the same seed gives the same batches for any thread count.
  Augmentation augmentation{};
  uint64_t augment_seed = 0;
};

// A file ImageDataset could not use, and why.
struct SkippedFile {
  std::filesystem::path path;
  std::string reason;
};

// The samples folder.files[indices[i]] (e.g. one side of a stratified_split), decoded and resized
// in the constructor (OpenMP over files) into an 8-bit cache. Kept samples keep the order of
// `indices`. Unreadable files are skipped and listed in skipped(), or throw in strict mode (the
// first bad one in `indices` order). Inputs are (height, width, channels) floats; targets are
// (1) holding 0/1 for two classes, else (K) one-hot.
class ImageDataset : public Dataset {
 public:
  ImageDataset(const ImageFolder& folder, std::vector<int64_t> indices,
               const ImageDatasetOptions& options)
      : opt_(options),
        class_names_(folder.class_names),
        channels_(num_channels(options.color_mode)) {
    MOODNET_CHECK(opt_.height > 0 && opt_.width > 0, "ImageDataset: image size ", opt_.height, "x",
                  opt_.width, " must be positive");
    opt_.augmentation.validate();
    const ResizeOptions resize = resize_options();
    resize.validate();
    MOODNET_CHECK(folder.files.size() == folder.labels.size(), "ImageDataset: folder has ",
                  folder.files.size(), " files but ", folder.labels.size(), " labels");
    MOODNET_CHECK(class_names_.size() >= 2, "ImageDataset: need at least 2 classes, got ",
                  class_names_.size());
    for (int64_t k : indices)
      MOODNET_CHECK(k >= 0 && k < folder.size(), "ImageDataset: sample index ", k,
                    " out of range [0, ", folder.size(), ")");
    for (int64_t k : indices) {
      const int l = folder.labels[static_cast<size_t>(k)];
      MOODNET_CHECK(l >= 0 && l < folder.num_classes(), "ImageDataset: label ", l, " of ",
                    folder.files[static_cast<size_t>(k)].string(), " is not a class index");
    }

    const auto n = static_cast<int64_t>(indices.size());
    const int64_t per = sample_elements();
    std::vector<uint8_t> cache(static_cast<size_t>(n * per));
    std::vector<std::string> errors(static_cast<size_t>(n));
    std::vector<char> ok(static_cast<size_t>(n), 0);
MOODNET_OMP(omp parallel for schedule(dynamic, 4))
for (int64_t i = 0; i < n; ++i) {
  try {
    const Image img = load_image(folder.files[static_cast<size_t>(indices[static_cast<size_t>(i)])],
                                 opt_.height, opt_.width, opt_.color_mode, resize, opt_.max_pixels);
    std::copy(img.pixels.begin(), img.pixels.end(), cache.begin() + i * per);
    ok[static_cast<size_t>(i)] = 1;
  } catch (const std::exception& e) {
    errors[static_cast<size_t>(i)] = e.what();
  }
}

// Compact the cache in `indices` order.
int64_t kept = 0;
for (int64_t i = 0; i < n; ++i) {
  const auto k = static_cast<size_t>(indices[static_cast<size_t>(i)]);
  if (!ok[static_cast<size_t>(i)]) {
    MOODNET_CHECK(!opt_.strict, "ImageDataset: ", errors[static_cast<size_t>(i)]);
    skipped_.push_back({folder.files[k], std::move(errors[static_cast<size_t>(i)])});
    continue;
  }
  if (kept != i) std::copy_n(cache.begin() + i * per, per, cache.begin() + kept * per);
  paths_.push_back(folder.files[k]);
  labels_.push_back(folder.labels[k]);
  ++kept;
}
MOODNET_CHECK(n == 0 || kept > 0, "ImageDataset: none of the ", n,
              " images could be read; the first error: ",
              skipped_.empty() ? std::string() : skipped_.front().reason);
cache.resize(static_cast<size_t>(kept * per));
cache.shrink_to_fit();
pixels_ = std::move(cache);
  }

  ImageDataset(const ImageFolder& folder, std::vector<int64_t> indices, int64_t height,
               int64_t width, ColorMode color_mode = ColorMode::rgb, float scale = 1.0f / 255.0f,
               bool strict = false)
      : ImageDataset(folder, std::move(indices),
                     make_options(height, width, color_mode, scale, strict)) {}

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  Shape sample_shape() const override { return Shape{opt_.height, opt_.width, channels_}; }
  Shape target_shape() const override { return Shape{num_classes() == 2 ? 1 : num_classes()}; }

  void load_batch(std::span<const int64_t> indices, uint64_t epoch, Tensor<Cpu>& x,
                  Tensor<Cpu>& y) override {
    const auto b = static_cast<int64_t>(indices.size());
    for (int64_t k : indices)
      MOODNET_CHECK(k >= 0 && k < size(), "ImageDataset: sample index ", k, " out of range [0, ",
                    size(), ")");
    const int64_t per = sample_elements();
    const int64_t ys = target_shape().num_elements();
    x.resize(sample_shape().with_batch(b));
    y.resize(target_shape().with_batch(b));
    float* xd = x.data();
    float* yd = y.data();
    const float scale = opt_.scale;
    const bool augment = opt_.augmentation.enabled();
    // Threads only where they pay: a warp costs tens of ns per value, a plain uint8 -> float copy
    // a fraction of one, and a parallel region on a busy machine can cost milliseconds (a batch
    // of 32 fer2013 faces converted 200x slower with 2 threads than with 1 here). Each sample
    // is written by one thread from its own key, so the output is the same for any thread count.
    const int64_t parallel_from = augment ? (int64_t{1} << 14) : (int64_t{1} << 22);
MOODNET_OMP(omp parallel for schedule(static) if (b * per >= parallel_from))
for (int64_t i = 0; i < b; ++i) {
  const auto k = indices[static_cast<size_t>(i)];
  const uint8_t* src = pixels_.data() + k * per;
  float* dst = xd + i * per;
  if (augment)
    augment_pixels(src, opt_.height, opt_.width, channels_, opt_.augmentation, opt_.augment_seed,
                   epoch, static_cast<uint64_t>(k), dst, scale);
  else
    for (int64_t j = 0; j < per; ++j) dst[j] = static_cast<float>(src[j]) * scale;
  const int label = labels_[static_cast<size_t>(k)];
  if (ys == 1) {
    yd[i] = static_cast<float>(label);
  } else {
    std::fill(yd + i * ys, yd + (i + 1) * ys, 0.0f);
    yd[i * ys + label] = 1.0f;
  }
}
  }

  int num_classes() const { return static_cast<int>(class_names_.size()); }
  const std::vector<std::string>& class_names() const { return class_names_; }
  // Label (class index) of each kept sample.
  const std::vector<int>& labels() const { return labels_; }
  // Source file of kept sample i.
  const std::filesystem::path& path(int64_t i) const {
    MOODNET_CHECK(i >= 0 && i < size(), "ImageDataset: sample index ", i, " out of range [0, ",
                  size(), ")");
    return paths_[static_cast<size_t>(i)];
  }
  // The cached 8-bit (height, width, channels) pixels of kept sample i.
  std::span<const uint8_t> pixels(int64_t i) const {
    MOODNET_CHECK(i >= 0 && i < size(), "ImageDataset: sample index ", i, " out of range [0, ",
                  size(), ")");
    return {pixels_.data() + i * sample_elements(), static_cast<size_t>(sample_elements())};
  }
  const std::vector<SkippedFile>& skipped() const { return skipped_; }
  const ImageDatasetOptions& options() const { return opt_; }
  ResizeOptions resize_options() const {
    return {opt_.interpolation, opt_.crop_to_aspect_ratio, opt_.pad_to_aspect_ratio};
  }

 private:
  static ImageDatasetOptions make_options(int64_t h, int64_t w, ColorMode m, float scale,
                                          bool strict) {
    ImageDatasetOptions o;
    o.height = h;
    o.width = w;
    o.color_mode = m;
    o.scale = scale;
    o.strict = strict;
    return o;
  }
  int64_t sample_elements() const { return opt_.height * opt_.width * channels_; }

  ImageDatasetOptions opt_;
  std::vector<std::string> class_names_;
  int64_t channels_;
  std::vector<std::filesystem::path> paths_;
  std::vector<int> labels_;
  std::vector<uint8_t> pixels_;
  std::vector<SkippedFile> skipped_;
};

}  // namespace moodnet
