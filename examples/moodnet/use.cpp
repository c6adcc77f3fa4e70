// `moodnet evaluate` and `moodnet predict`, and the evaluation shared with `train`.
#include <cstdio>
#include <iostream>
#include <moodnet/data/augment_folder.hpp>
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
void print_skipped(const ImageDataset& d) {
  for (const auto& s : d.skipped())
    std::cerr << "skipped " << s.path.string() << ": " << s.reason << "\n";
}

Shape parse_image_size(const std::string& s, int64_t channels) {
  const auto comma = s.find(',');
  try {
    const int64_t h = std::stoll(s.substr(0, comma));
    const int64_t w = comma == std::string::npos ? h : std::stoll(s.substr(comma + 1));
    if (h > 0 && w > 0) return {h, w, channels};
  } catch (const std::exception&) {
  }
  throw UsageError("--image-size: expected H,W (e.g. 150,150), got '" + s + "'");
}

InputSpec resolve_input(const Shape& arch_input, const std::string& image_size,
                        const std::string& color) {
  const ColorMode mode = color.empty()
                             ? (arch_input[2] == 1 ? ColorMode::grayscale : ColorMode::rgb)
                         : color == "grayscale" ? ColorMode::grayscale
                                                : ColorMode::rgb;
  const int64_t channels = mode == ColorMode::grayscale ? 1 : 3;
  return {image_size.empty() ? Shape{arch_input[0], arch_input[1], channels}
                             : parse_image_size(image_size, channels),
          mode};
}

int run_evaluate(const std::string& model_path, const std::string& data, const std::string& classes,
                 bool json, const std::string& report_dir, bool tta) {
  Model<Cpu> model = load_model<Cpu>(model_path);
  const DataLayout layout = resolve_layout(data);
  const fs::path dir = layout.test_dir.empty() ? layout.train_dir : layout.test_dir;
  const ImageFolder folder = scan_image_folder(dir, split_list(classes));
  std::vector<int64_t> all(folder.files.size());
  std::iota(all.begin(), all.end(), 0);
  const Shape in = model.input_shape();
  // Pixels as the model was trained on them: [0, 1], or raw 0-255 for models that rescale
  // themselves (seed003); saved in the model file as "scale", as classify_image reads it.
  const auto scale = static_cast<float>(model.metadata().value("scale", 1.0 / 255));
  ImageDataset ds(folder, all, in[0], in[1], image_color_mode(model), scale);
  print_skipped(ds);
  const ClassifierEvaluation e = evaluate_classifier(model, ds, folder.class_names, 64, tta);
  std::cout << e.report.to_string();
  std::printf("ROC AUC %.3f\n", e.auc);
  if (!report_dir.empty()) {
    CliReport r;  // no history: the page says there are no curves
    r.title = "moodnet evaluate: " + model_path + " on " + dir.string();
    r.model = &model;
    r.test = &ds;
    r.evaluation = &e;
    r.run = {{"command", "evaluate"},
             {"model", model_path},
             {"data", dir.string()},
             {"test images", ds.size()},
             {"skipped files", ds.skipped().size()}};
    write_cli_report(report_dir, r);
  }
  if (json) {
    nlohmann::json j = e.report.to_json();
    j["auc"] = e.auc;
    std::cout << j.dump() << "\n";
  }
  return 0;
}

int run_predict(const std::string& model_path, const std::vector<std::string>& images,
                const std::vector<std::string>& given_names, bool json, bool tta) {
  Model<Cpu> model = load_model<Cpu>(model_path);
  if (!given_names.empty()) model.metadata()["class_names"] = given_names;
  const auto class_names =
      model.metadata().value("class_names", std::vector<std::string>{"0", "1"});
  MOODNET_CHECK(model.output_shape()[0] > 1 || class_names.size() == 2,
                "predict: a one-unit model needs two class names, got ", class_names.size());
  nlohmann::json out = nlohmann::json::array();
  int failures = 0;
  for (const auto& path : images) {
    try {
      const ImageClassification c = classify_image(model, path, {.hflip_average = tta});
      if (json) {
        out.push_back({{"image", path},
                       {"label", c.class_name},
                       {"confidence", c.confidence},
                       {"probabilities", c.probabilities}});
      } else {
        std::string upper = c.class_name;
        for (char& ch : upper) ch = char(std::toupper(static_cast<unsigned char>(ch)));
        std::printf("%s  %s %.1f %%\n", path.c_str(), upper.c_str(), 100 * c.confidence);
      }
    } catch (const Error& e) {
      ++failures;
      std::cerr << "error: " << e.what() << "\n";
    }
  }
  if (json) std::cout << out.dump() << "\n";
  return failures ? 1 : 0;
}

int run_augment(const std::string& dir, const std::string& out, int copies, const std::string& spec,
                uint64_t seed, bool jpeg) {
  Augmentation aug;
  try {
    aug = parse_augmentation(spec);
  } catch (const Error& e) {
    throw UsageError(std::string("--augment: ") + e.what());
  }
  if (!aug.enabled()) throw UsageError("--augment: nothing to do (no augmentation given)");
  const AugmentFolderReport r = augment_folder(dir, out, copies, aug, seed, {.jpeg = jpeg});
  for (const auto& s : r.skipped)
    std::cerr << "skipped " << s.path.string() << ": " << s.reason << "\n";
  std::printf("%lld images x %d copies: %lld files written to %s (%s)\n",
              static_cast<long long>(r.images), copies, static_cast<long long>(r.files_written),
              out.c_str(), to_string(aug).c_str());
  return 0;
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
  if (zoo::is_pretrained_architecture(arch)) {  // missing weights: a run-time failure (exit 1)
    std::cout << build_architecture(arch, 0).summary();
    return 0;
  }
  try {
    std::cout << build_architecture(arch, 0).summary();
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  return 0;
}

}  // namespace moodnet::cli
