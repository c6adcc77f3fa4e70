// What train.cpp and use.cpp share: data layouts and evaluation.
#pragma once

#include <atomic>
#include <filesystem>
#include <moodnet/io/json.hpp>
#include <moodnet/moodnet.hpp>
#include <optional>

#include "commands.hpp"

namespace moodnet::cli {

namespace fs = std::filesystem;

// Set by SIGINT: training stops after the current batch and keeps the best model so far.
extern std::atomic<bool> stop_requested;

// A data folder as the shared sets and Keras users lay them out: DIR/{train,test}/CLASS,
// DIR/all/CLASS, or DIR/CLASS.
struct DataLayout {
  fs::path train_dir, test_dir;  // test_dir empty: split the train folder
};
DataLayout resolve_layout(const fs::path& dir);

void print_skipped(const ImageDataset& d);

// Parses "H,W" (or one number for a square); UsageError naming --image-size otherwise.
Shape parse_image_size(const std::string& s, int64_t channels);
// The input a model is trained at: the architecture's own (arch_input) unless --image-size /
// --color (image_size, color: "" or as given) say otherwise.
struct InputSpec {
  Shape shape;
  ColorMode color = ColorMode::rgb;
};
InputSpec resolve_input(const Shape& arch_input, const std::string& image_size,
                        const std::string& color);

// What `--report DIR` shows (report.cpp): the test set, its evaluation, and for `train` the
// fit history and the epoch whose weights were kept.
struct CliReport {
  std::string title;
  const Model<Cpu>* model = nullptr;
  const ImageDataset* test = nullptr;
  const ClassifierEvaluation* evaluation = nullptr;  // of `model` on `test`
  const History* history = nullptr;                  // null: evaluation only, no curves
  int kept_epoch = 0;                                // 1-based; 0: none
  std::vector<std::string> groups;  // --group-by: group_keys() of each test sample; empty: none
  using Settings = std::vector<std::pair<std::string, nlohmann::json>>;
  Settings run;  // the run's settings, shown in this order
};
// Writes the report into `dir` and prints where it is.
void write_cli_report(const fs::path& dir, const CliReport& r);

// zoo::build, and the pretrained architectures (pretrained.cpp: zoo::build_pretrained).
Model<Cpu> build_architecture(const std::string& arch, uint64_t seed,
                              std::optional<Shape> input = std::nullopt);

// --group-by: group_keys() of <moodnet/data/groups.hpp>, compiled in groups.cpp (regex).
std::vector<std::string> file_groups(const std::vector<fs::path>& files, const std::string& regex,
                                     int64_t* unmatched = nullptr);

}  // namespace moodnet::cli
