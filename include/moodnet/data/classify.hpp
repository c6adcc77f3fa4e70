// Classifying photo files with a trained model: the image is decoded, resized and scaled the way
// the model was trained, as recorded in its metadata (class_names, color_mode, scale).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "../nn/model.hpp"
#include "image.hpp"

namespace moodnet {

// Metadata keys train programs set so that a saved model can be fed photos later.
template <class D>
void set_image_metadata(Model<D>& model, const std::vector<std::string>& class_names,
                        ColorMode color, double scale = 1.0 / 255) {
  model.metadata()["class_names"] = class_names;
  model.metadata()["color_mode"] = to_string(color);
  model.metadata()["scale"] = scale;
}

// The colour mode a model expects: its metadata's, else from its input channels.
template <class D>
ColorMode image_color_mode(const Model<D>& model) {
  const std::string saved = model.metadata().value("color_mode", std::string());
  const int64_t c = model.input_shape()[2];
  const ColorMode mode = saved == "grayscale" || saved == "rgba" ? parse_color_mode(saved)
                         : !saved.empty()                        ? ColorMode::rgb
                         : c == 1                                ? ColorMode::grayscale
                         : c == 4                                ? ColorMode::rgba
                                                                 : ColorMode::rgb;
  // A hand-edited or foreign model file could pair a 3-channel input with "grayscale": the
  // decoded pixels would not fill the input.
  const int64_t mode_channels = num_channels(mode);
  MOODNET_CHECK(mode_channels == c, "the model's input has ", c, " channel(s) but its color_mode '",
                saved, "' gives ", mode_channels);
  return mode;
}

struct ImageClassification {
  int label = 0;
  std::string class_name;
  double confidence = 0;              // probability of the predicted class
  std::vector<double> probabilities;  // per class (two-class sigmoid heads: 1 - p, p)
};

struct ClassifyOptions {
  int64_t max_pixels = default_max_image_pixels;  // larger files are refused (decoder safety)
  // Test-time augmentation: score the photo as the mean of the model's outputs on it and on
  // its mirror image, as predict_classes(..., hflip_average) does for a data set.
  bool hflip_average = false;
};

// Classifies one photo. Throws moodnet::Error naming the file when it cannot be read.
template <class D>
ImageClassification classify_image(const Model<D>& model, const std::filesystem::path& file,
                                   const ClassifyOptions& options = {}) {
  const Shape in = model.input_shape();
  const Image img = load_image(file, in[0], in[1], image_color_mode(model), options.max_pixels);
  const auto scale = static_cast<float>(model.metadata().value("scale", 1.0 / 255));
  Tensor<Cpu> x(in.with_batch(1));
  for (int64_t i = 0; i < x.size(); ++i) x[i] = float(img.pixels[size_t(i)]) * scale;
  const auto predict_host = [&model](const Tensor<Cpu>& batch) {
    if constexpr (std::is_same_v<D, Cpu>) {
      Tensor<Cpu> out;
      model.predict(batch, out);
      return out.to_vector();
    } else {
      return to<Cpu>(model.predict(to<D>(batch))).to_vector();
    }
  };
  std::vector<float> scores = predict_host(x);
  if (options.hflip_average) {  // averaged as predict_classes(..., hflip_average) does
    Tensor<Cpu> mirrored;
    detail::flip_left_right(x, mirrored);
    const std::vector<float> m = predict_host(mirrored);
    for (size_t k = 0; k < scores.size(); ++k) scores[k] = 0.5f * (scores[k] + m[k]);
  }
  ImageClassification r;
  if (scores.size() == 1) {
    r.probabilities = {1.0 - scores[0], double(scores[0])};
    r.label = scores[0] >= 0.5f ? 1 : 0;  // as predict_classes thresholds
  } else {
    for (const float p : scores) r.probabilities.push_back(p);
    for (size_t k = 1; k < r.probabilities.size(); ++k)
      if (r.probabilities[k] > r.probabilities[size_t(r.label)]) r.label = static_cast<int>(k);
  }
  r.confidence = r.probabilities[size_t(r.label)];
  const auto names = model.metadata().value("class_names", std::vector<std::string>{});
  r.class_name =
      size_t(r.label) < names.size() ? names[size_t(r.label)] : "class " + std::to_string(r.label);
  return r;
}

}  // namespace moodnet
