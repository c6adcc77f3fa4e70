// The moodnet program's commands as main.cpp sees them: arguments in, exit code out. Kept free
// of the library headers so the CLI11 translation unit compiles fast.
#pragma once

#include <cstdint>
#include <moodnet/config.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace moodnet::cli {

// A bad argument value found after parsing: the program exits with code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

struct TrainArgs {
  // Defaults: seed 004's protocol (Adam 1e-3, batch 16, 20 epochs) and its best model.
  std::string data, arch = "seed004-attempt3", out = "moodnet-model.moodnet", optimizer = "adam",
                    classes, image_size, color;
  std::string test_data;       // a separate test folder (overrides the split's test part)
  std::string model_file;      // --model: start from a saved model instead of --arch
  std::string augment;         // augmentation spec or preset, e.g. "rotation=40,hflip" or seed000
  std::string group_by;        // regex whose first capture names a file's group (person)
  std::string early_stopping;  // "MONITOR:PATIENCE", e.g. val_loss:5
  std::string reduce_lr;       // "MONITOR:FACTOR:PATIENCE", e.g. val_loss:0.5:2
  std::string protocol;        // a seed's recipe (training_protocol); given options win
  double l2 = -1;              // --l2: L2 on every Conv2D/Dense kernel; < 0: the architecture's
  std::string class_weight;    // --class-weight: "balanced" or one weight per class, e.g. 1,4
  std::vector<std::string> given;  // options given on the command line, e.g. "--epochs"
  std::string keep = "best";       // weights kept after training: best (monitored epoch) or last
  int64_t split_seed = -1;         // seed of the train/validation/test split; < 0: --seed
  int fine_tune = 0;  // unfreeze the last K blocks of a pretrained backbone (lower learning rate)
  int epochs = 20;
  int64_t batch = 16;
  double lr = 1e-3, val_split = 0.15, test_split = 0.2;
  uint64_t seed = 42;
  int threads = 0;
  bool json = false;
  bool prefetch = false;  // --prefetch: load the next batch on a worker thread
  bool tta = false;       // --tta: score test images as the mean over the image and its mirror
  std::string report;     // --report DIR: the HTML report and its files (empty: none)
};

// "happy,sad" -> {"happy", "sad"}
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

int run_train(const TrainArgs& a);
// Fills the options of a.protocol that a.given lacks (protocol.cpp); UsageError if unknown.
void apply_protocol(TrainArgs& a);

// `tune`: seeded random search over seed004-attempt4's space (conv1, conv2, dense, lr).
struct TuneArgs {
  std::string data, out = "moodnet-tuned.moodnet", classes, image_size, color;
  int trials = 10, epochs = 15;  // seed 004's tuner: max_trials=10, epochs=15
  int64_t batch = 16;
  double val_split = 0.25;  // seed 004 validated on a stratified 25 %
  uint64_t seed = 42;
  int threads = 0;
  bool json = false;
};
int run_tune(const TuneArgs& a);
// `evaluate`: report_dir non-empty writes the report there (without training curves).
// tta: each image scored as the mean over it and its mirror image (test-time augmentation).
int run_evaluate(const std::string& model_path, const std::string& data, const std::string& classes,
                 bool json, const std::string& report_dir = {}, bool tta = false);
int run_predict(const std::string& model_path, const std::vector<std::string>& images,
                const std::vector<std::string>& given_names, bool json, bool tta);
// `summary`: an architecture by name, a saved model, or (list) every architecture.
int run_summary(const std::string& arch, const std::string& model_path, bool list);
// `augment`: write `copies` augmented variants of every image of DIR/CLASS into out/CLASS.
int run_augment(const std::string& dir, const std::string& out, int copies, const std::string& spec,
                uint64_t seed, bool jpeg);
// `inspect`: the dataset health check; 1 when DIR holds no usable image.
int run_inspect(const std::string& dir, bool json, int64_t max_pixels);

}  // namespace moodnet::cli
