// `moodnet evaluate` and `moodnet predict`, and the evaluation shared with `train`.
#include <cstdio>
#include <iostream>
#include <numeric>

#include "common.hpp"

namespace moodnet::cli {

DataLayout resolve_layout(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw Error("data folder '" + dir.string() + "' does not exist or is not a folder");
  if (fs::is_directory(dir / "train"))
    return {dir / "train", fs::is_directory(dir / "test") ? dir / "test" : fs::path()};
  if (fs::is_directory(dir / "all")) return {dir / "all", {}};
  return {dir, {}};
}

// The colour mode a model was trained with (saved in its metadata), else from its channels.
ColorMode color_of(const Model<Cpu>& model) {
  const std::string saved = model.metadata().value("color_mode", std::string());
  if (!saved.empty()) return saved == "grayscale" ? ColorMode::grayscale : ColorMode::rgb;
  return model.input_shape()[2] == 1 ? ColorMode::grayscale : ColorMode::rgb;
}

// Predicted labels of a dataset (threshold 0.5 on a sigmoid head, argmax on softmax).
Evaluated evaluate_dataset(const Model<Cpu>& model, ImageDataset& data) {
  std::vector<int> truth, pred;
  std::vector<double> scores;
  Tensor<Cpu> x, y;
  for (int64_t b0 = 0; b0 < data.size(); b0 += 64) {
    std::vector<int64_t> idx;
    for (int64_t i = b0; i < std::min(data.size(), b0 + 64); ++i) idx.push_back(i);
    data.load_batch(idx, 0, x, y);
    const Tensor<Cpu> out = model.predict(x, 64);
    const int64_t k = out.size() / out.dim(0);
    for (size_t i = 0; i < idx.size(); ++i) {
      const auto row = static_cast<int64_t>(i);
      if (k == 1) {
        scores.push_back(out[row]);
        pred.push_back(out[row] >= 0.5f ? 1 : 0);
        truth.push_back(y[row] >= 0.5f ? 1 : 0);
      } else {
        int64_t am = 0, at = 0;
        for (int64_t j = 1; j < k; ++j) {
          if (out[row * k + j] > out[row * k + am]) am = j;
          if (y[row * k + j] > y[row * k + at]) at = j;
        }
        pred.push_back(int(am));
        truth.push_back(int(at));
      }
    }
  }
  Evaluated e;
  e.report = classification_report(truth, pred, data.class_names());
  if (!scores.empty()) e.auc = roc_auc(scores, truth);
  return e;
}

void print_skipped(const ImageDataset& d) {
  for (const auto& s : d.skipped())
    std::cerr << "skipped " << s.path.string() << ": " << s.reason << "\n";
}

int run_evaluate(const std::string& model_path, const std::string& data, const std::string& classes,
                 bool json) {
  Model<Cpu> model = load_model<Cpu>(model_path);
  const DataLayout layout = resolve_layout(data);
  const fs::path dir = layout.test_dir.empty() ? layout.train_dir : layout.test_dir;
  const ImageFolder folder = scan_image_folder(dir, split_list(classes));
  std::vector<int64_t> all(folder.files.size());
  std::iota(all.begin(), all.end(), 0);
  const Shape in = model.input_shape();
  ImageDataset ds(folder, all, in[0], in[1], color_of(model));
  print_skipped(ds);
  const Evaluated e = evaluate_dataset(model, ds);
  std::cout << e.report.to_string();
  std::printf("ROC AUC %.3f\n", e.auc);
  if (json) {
    nlohmann::json j = e.report.to_json();
    j["auc"] = e.auc;
    std::cout << j.dump() << "\n";
  }
  return 0;
}

int run_predict(const std::string& model_path, const std::vector<std::string>& images,
                const std::vector<std::string>& given_names, bool json) {
  Model<Cpu> model = load_model<Cpu>(model_path);
  const Shape in = model.input_shape();
  const ColorMode color = color_of(model);
  std::vector<std::string> class_names = given_names;
  if (class_names.empty())
    class_names = model.metadata().value("class_names", std::vector<std::string>{"0", "1"});
  MOODNET_CHECK(class_names.size() == 2, "predict: expected two class names, got ",
                class_names.size());
  nlohmann::json out = nlohmann::json::array();
  int failures = 0;
  for (const auto& path : images) {
    try {
      const Image img = load_image(path, in[0], in[1], color);
      Tensor<Cpu> x(in.with_batch(1));
      for (int64_t i = 0; i < x.size(); ++i) x[i] = float(img.pixels[size_t(i)]) / 255.0f;
      const float p = model.predict(x)[0];
      const bool positive = p >= 0.5f;
      const std::string& label = class_names[positive ? 1 : 0];
      const double confidence = positive ? p : 1 - p;
      if (json) {
        out.push_back(
            {{"image", path}, {"label", label}, {"confidence", confidence}, {"p_class1", p}});
      } else {
        std::string upper = label;
        for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
        std::printf("%s  %s %.1f %%\n", path.c_str(), upper.c_str(), 100 * confidence);
      }
    } catch (const Error& e) {
      ++failures;
      std::cerr << "error: " << e.what() << "\n";
    }
  }
  if (json) std::cout << out.dump() << "\n";
  return failures ? 1 : 0;
}

int run_summary(const std::string& arch, const std::string& model_path, bool list) {
  if (list) {
    for (const auto& a : zoo::architectures())
      std::printf("%-18s %s\n", a.name.c_str(), a.description.c_str());
    return 0;
  }
  if (!model_path.empty()) {
    std::cout << load_model<Cpu>(model_path).summary();
    return 0;
  }
  if (arch.empty()) throw UsageError("summary: give --arch NAME, --model FILE or --list");
  try {
    std::cout << zoo::build<Cpu>(arch).summary();
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  return 0;
}

}  // namespace moodnet::cli
