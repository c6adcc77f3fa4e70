// `moodnet train`: split a folder, train an architecture, keep the best epoch, save, evaluate.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>
#include <moodnet/train/transfer.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "common.hpp"

#ifndef MOODNET_SAMPLE_DIR
#define MOODNET_SAMPLE_DIR "data/sample"
#endif

namespace moodnet::cli {

std::atomic<bool> stop_requested{false};

namespace {

// The embedded sample: the source tree's copy, else the installed share/moodnet/sample.
fs::path sample_dir() {
  if (fs::is_directory(MOODNET_SAMPLE_DIR)) return MOODNET_SAMPLE_DIR;
  std::error_code ec;
  const fs::path installed =
      fs::read_symlink("/proc/self/exe", ec).parent_path() / "../share/moodnet/sample";
  return fs::is_directory(installed) ? installed : fs::path(MOODNET_SAMPLE_DIR);
}

// "a:b:c" -> {"a", "b", "c"}, exactly n fields.
std::vector<std::string> split_fields(const std::string& s, size_t n, const char* option,
                                      const char* form) {
  std::vector<std::string> f;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ':');) f.push_back(item);
  if (f.size() != n || f[0].empty())
    throw UsageError(std::string(option) + ": expected " + form + ", got '" + s + "'");
  return f;
}
int to_int(const std::string& s, const char* option) {
  try {
    size_t used = 0;
    const int v = std::stoi(s, &used);
    if (used == s.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  throw UsageError(std::string(option) + ": '" + s + "' is not a non-negative integer");
}
double to_double(const std::string& s, const char* option) {
  try {
    size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  throw UsageError(std::string(option) + ": '" + s + "' is not a positive number");
}

// --class-weight: "balanced" (from the training part's class counts) or one positive weight per
// class, in class order ("1,4").
std::vector<double> parse_class_weight(const std::string& spec, const std::vector<int>& labels,
                                       const std::vector<int64_t>& train,
                                       const std::vector<std::string>& class_names) {
  const int k = static_cast<int>(class_names.size());
  if (spec == "balanced") {
    std::vector<int> train_labels;
    train_labels.reserve(train.size());
    for (const int64_t i : train) train_labels.push_back(labels[static_cast<size_t>(i)]);
    return balanced_class_weights(train_labels, k);
  }
  std::vector<double> w;
  for (const std::string& f : split_list(spec)) w.push_back(to_double(f, "--class-weight"));
  if (static_cast<int>(w.size()) != k)
    throw UsageError("--class-weight: expected 'balanced' or " + std::to_string(k) +
                     " weights (one per class: " + class_names[0] + "," + class_names[1] +
                     "), got '" + spec + "'");
  return w;
}

bool given(const TrainArgs& a, const char* option) {
  return std::find(a.given.begin(), a.given.end(), option) != a.given.end();
}

// --model: the saved model fixes the input size and colour. --image-size and --color given on the
// command line must agree with it; values a protocol or the sample's defaults filled in give way.
InputSpec saved_model_input(const Model<Cpu>& m, const TrainArgs& a) {
  const Shape in = m.input_shape();
  const ColorMode color = image_color_mode(m);
  if (given(a, "--image-size")) {
    const Shape asked = parse_image_size(a.image_size, in[2]);
    if (asked[0] != in[0] || asked[1] != in[1])
      throw UsageError("--image-size " + a.image_size + " does not fit the model in '" +
                       a.model_file + "', which takes " + std::to_string(in[0]) + "," +
                       std::to_string(in[1]));
  }
  if (given(a, "--color") && a.color != to_string(color))
    throw UsageError("--color " + a.color + " does not fit the model in '" + a.model_file +
                     "', which takes " + to_string(color) + " images");
  return {in, color};
}

}  // namespace

int run_train_on(const TrainArgs& a, const fs::path& data_dir);

int run_train(const TrainArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  TrainArgs args = a;
  if (!args.protocol.empty()) apply_protocol(args);  // before the sample's defaults
  const fs::path data_dir = a.data.empty() ? sample_dir() : fs::path(a.data);
  if (a.data.empty()) {
    // The sample is 64x64 grayscale faces: train at that size unless told otherwise.
    if (args.image_size.empty()) args.image_size = "64,64";
    if (args.color.empty()) args.color = "grayscale";
    std::cout << "No --data given: training on the embedded sample " << data_dir.string() << " at "
              << args.image_size << " " << args.color << "\n";
  }
  return run_train_on(args, data_dir);
}

int run_train_on(const TrainArgs& a, const fs::path& data_dir) {
  // Every option is checked before any image is read.
  Augmentation augmentation;
  try {
    augmentation = parse_augmentation(a.augment);
  } catch (const Error& e) {
    throw UsageError(std::string("--augment: ") + e.what());
  }
  std::vector<std::string> stop_spec, plateau_spec;
  if (!a.early_stopping.empty())
    stop_spec = split_fields(a.early_stopping, 2, "--early-stopping", "MONITOR:PATIENCE");
  if (!a.reduce_lr.empty())
    plateau_spec = split_fields(a.reduce_lr, 3, "--reduce-lr", "MONITOR:FACTOR:PATIENCE");
  const int stop_patience = stop_spec.empty() ? 0 : to_int(stop_spec[1], "--early-stopping");
  const double plateau_factor =
      plateau_spec.empty() ? 0 : to_double(plateau_spec[1], "--reduce-lr");
  const int plateau_patience = plateau_spec.empty() ? 0 : to_int(plateau_spec[2], "--reduce-lr");
  if (a.fine_tune > 0 && !zoo::is_pretrained_architecture(a.arch))
    throw UsageError("--fine-tune: architecture '" + a.arch +
                     "' has no pretrained backbone (seed000-transfer and "
                     "face-expression-transfer have)");
  if (!a.report.empty() && fs::exists(a.report) && !fs::is_directory(a.report))
    throw UsageError("--report: '" + a.report + "' exists and is not a directory");
  // --model: start from a saved model (architecture, weights, input, pixel scale, class order).
  std::optional<Model<Cpu>> saved;
  if (!a.model_file.empty()) {
    if (!fs::is_regular_file(a.model_file))
      throw UsageError("--model: '" + a.model_file + "' does not exist or is not a file");
    saved.emplace(load_model<Cpu>(a.model_file));
    MOODNET_CHECK(saved->output_shape().rank() == 1 && saved->output_shape()[0] == 1, "--model: '",
                  a.model_file, "' does not end in one sigmoid unit (a two-class model)");
  }
  const std::string arch =
      saved ? saved->metadata().value("arch", std::string("saved model")) : a.arch;
  if (saved) std::cout << "starting from " << a.model_file << " (" << arch << ")\n";
  const DataLayout layout = resolve_layout(data_dir);

  const InputSpec input =
      saved ? saved_model_input(*saved, a)
            : resolve_input(zoo::default_input_shape(a.arch), a.image_size, a.color);
  const Shape in = input.shape;
  const ColorMode color = input.color;

  const fs::path test_dir = a.test_data.empty() ? layout.test_dir : fs::path(a.test_data);
  // A saved model keeps its class order (label 0 and 1 mean what they meant) when the folder
  // has those classes and --classes does not pick others.
  std::vector<std::string> classes = split_list(a.classes);
  if (saved && classes.empty()) {
    const auto names = saved->metadata().value("class_names", std::vector<std::string>{});
    if (names.size() == 2 && std::all_of(names.begin(), names.end(), [&](const std::string& n) {
          return fs::is_directory(layout.train_dir / n);
        }))
      classes = names;
  }
  const ImageFolder folder = scan_image_folder(layout.train_dir, classes);
  const double test_fraction = test_dir.empty() ? a.test_split : 0.0;
  const uint64_t split_seed = a.split_seed >= 0 ? uint64_t(a.split_seed) : a.seed;
  Split split;
  if (a.group_by.empty()) {
    split = stratified_split(folder.labels, a.val_split, test_fraction, split_seed);
  } else {
    int64_t unmatched = 0;
    const auto groups = file_groups(folder.files, a.group_by, &unmatched);
    split = group_split(folder.labels, groups, a.val_split, test_fraction, split_seed);
    std::cout << "groups by '" << a.group_by
              << "': " << std::set<std::string>(groups.begin(), groups.end()).size() << " ("
              << unmatched << " files matched no group and stand alone)\n";
  }
  if (!a.report.empty() && test_dir.empty() && split.test.empty())
    throw UsageError("--report needs a test set: give --test-data DIR or --test-split above 0");
  std::cout << "classes: ";
  for (size_t k = 0; k < folder.class_names.size(); ++k)
    std::cout << (k ? ", " : "") << k << "=" << folder.class_names[k];
  std::cout << "\nimages: " << split.train.size() << " train, " << split.validation.size()
            << " validation";

  Model<Cpu> model = saved ? std::move(*saved) : build_architecture(a.arch, a.seed, in);
  // Pixels in [0, 1], unless the model rescales them itself (seed003 starts with Rescaling(1/255)).
  // Pretrained and saved models say what they take (metadata "scale").
  const bool rescales = model.num_layers() > 0 && model.layer(0).type() == "Rescaling";
  const float pixel_scale = model.metadata().contains("scale")
                                ? model.metadata()["scale"].get<float>()
                            : rescales ? 1.0f
                                       : 1.0f / 255;
  const ImageDatasetOptions eval_options{
      .height = in[0], .width = in[1], .color_mode = color, .scale = pixel_scale};
  ImageDatasetOptions train_options = eval_options;
  train_options.augmentation = augmentation;
  train_options.augment_seed = a.seed;
  ImageDataset train(folder, split.train, train_options);
  ImageDataset val(folder, split.validation, eval_options);
  std::unique_ptr<ImageDataset> test;
  if (!test_dir.empty()) {
    const ImageFolder test_folder = scan_image_folder(test_dir, folder.class_names);
    std::vector<int64_t> all(test_folder.files.size());
    std::iota(all.begin(), all.end(), 0);
    test = std::make_unique<ImageDataset>(test_folder, all, eval_options);
  } else if (!split.test.empty()) {
    test = std::make_unique<ImageDataset>(folder, split.test, eval_options);
  }
  std::cout << ", " << (test ? test->size() : 0) << " test (" << in[0] << "x" << in[1] << "x"
            << in[2] << ")\n";
  print_skipped(train);
  print_skipped(val);
  if (test) print_skipped(*test);
  if (a.fine_tune > 0) {
    const auto unfrozen = unfreeze_last_blocks(model, a.fine_tune);
    std::cout << "fine-tuning the last " << a.fine_tune << " backbone blocks at "
              << fine_tune_lr_factor << " x the learning rate: " << unfrozen.size() << " layers (";
    for (size_t i = 0; i < unfrozen.size(); ++i) std::cout << (i ? ", " : "") << unfrozen[i];
    std::cout << ")\n";
  }

  const int64_t k = static_cast<int64_t>(folder.class_names.size());
  MOODNET_CHECK(k == 2, "moodnet train handles two classes for now (happy vs sad); ",
                data_dir.string(), " has ", k, " — pick two with --classes");
  if (a.l2 >= 0)
    std::cout << "L2 " << a.l2 << " on " << set_kernel_l2(model, a.l2) << " Conv2D/Dense kernels\n";
  // What predict/evaluate need to feed the model the way it was trained.
  // (Pretrained models keep theirs: the weights' source, the backbone's blocks.)
  model.metadata().update({{"class_names", folder.class_names},
                           {"color_mode", to_string(color)},
                           {"scale", double(pixel_scale)},
                           {"arch", arch}});
  if (!a.model_file.empty()) model.metadata()["started_from"] = a.model_file;
  std::cout << model.summary();
  auto optimizer = make_optimizer<Cpu>(a.optimizer, {{"learning_rate", a.lr}});
  FitOptions opt;
  opt.epochs = a.epochs;
  opt.batch_size = a.batch;
  opt.seed = a.seed;
  opt.validation = val.size() > 0 ? &val : nullptr;
  opt.stop_requested = &stop_requested;
  opt.prefetch = a.prefetch;
  if (!a.class_weight.empty()) {
    opt.class_weight =
        parse_class_weight(a.class_weight, folder.labels, split.train, folder.class_names);
    std::cout << "class weights:";
    for (size_t c = 0; c < opt.class_weight.size(); ++c)
      std::cout << " " << folder.class_names[c] << " " << opt.class_weight[c];
    std::cout << "\n";
  }
  const Loss loss = Loss::binary_crossentropy();
  if (augmentation.enabled()) std::cout << "augmentation: " << to_string(augmentation) << "\n";
  // Without --early-stopping: run every epoch; with --keep best, keep the best validation
  // accuracy's weights (training accuracy without a validation set).
  const bool keep_best = a.keep != "last";
  EarlyStopping<Cpu> best({.monitor = opt.validation ? "val_accuracy" : "accuracy",
                           .patience = a.epochs + 1,
                           .restore_best_weights = keep_best});
  std::vector<Callback<Cpu>*> callbacks;
  if (!stop_spec.empty())
    best = EarlyStopping<Cpu>(
        {.monitor = stop_spec[0], .patience = stop_patience, .restore_best_weights = keep_best});
  std::unique_ptr<ReduceLROnPlateau<Cpu>> plateau;
  if (!plateau_spec.empty()) {
    plateau = std::make_unique<ReduceLROnPlateau<Cpu>>(ReduceLROnPlateauOptions{
        .monitor = plateau_spec[0], .factor = plateau_factor, .patience = plateau_patience});
    callbacks.push_back(plateau.get());
  }
  callbacks.push_back(&best);
  std::signal(SIGINT, [](int) { stop_requested = true; });
  const auto t0 = std::chrono::steady_clock::now();
  // A frozen backbone without augmentation: its features are computed once per image, then only
  // the head trains (fit_cached). With augmentation fit() runs the frozen part forward only.
  const bool cache = !augmentation.enabled() && frozen_prefix_length(model) > 0;
  FeatureCacheInfo cached;
  const History h = cache ? fit_cached(model, *optimizer, loss, train, opt, callbacks, &cached)
                          : fit(model, *optimizer, loss, train, opt, callbacks);
  if (cache)
    std::cout << "frozen layers 1-" << cached.frozen_layers << ": features "
              << cached.feature_shape.to_string() << " of " << cached.samples
              << " images computed once, in " << cached.seconds << " s\n";
  const double train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int kept_epoch = keep_best ? best.best_epoch() + 1 : h.epochs();
  const std::string monitor = !stop_spec.empty() ? stop_spec[0]
                              : opt.validation   ? "val_accuracy"
                                                 : "accuracy";
  std::cout << "trained " << h.epochs() << " epochs in " << train_seconds << " s; keeping epoch "
            << kept_epoch << (keep_best ? " (best " + monitor + ")" : std::string(" (the last)"))
            << "\n";

  save_model(model, a.out, optimizer.get());
  std::cout << "saved " << a.out << "\n";

  nlohmann::json result = {{"train_seconds", train_seconds},
                           {"epochs", h.epochs()},
                           {"kept_epoch", kept_epoch},
                           {"model", a.out}};
  if (test && test->size() > 0) {
    const ClassifierEvaluation e = evaluate_classifier(model, *test, folder.class_names, 64, a.tta);
    std::cout << "\ntest set (" << e.report.n << " images)\n" << e.report.to_string();
    std::printf("ROC AUC %.3f\n", e.auc);
    result.update(nlohmann::json(e.report.to_json()));
    result["auc"] = e.auc;
    if (a.tta) {  // what the mirror images added
      const ClassifierEvaluation plain = evaluate_classifier(model, *test, folder.class_names);
      std::printf("without --tta: accuracy %.4f, ROC AUC %.3f\n", plain.report.accuracy, plain.auc);
      result["tta"] = "hflip";
      result["without_tta"] = {{"accuracy", plain.report.accuracy}, {"auc", plain.auc}};
    }
    if (!a.report.empty()) {
      const CliReport::Settings run = {
          {"command", "train"},
          {"arch", arch},
          {"data", data_dir.string()},
          {"test data", test_dir.empty() ? "split of the data" : test_dir.string()},
          {"input",
           std::to_string(in[0]) + "x" + std::to_string(in[1]) + "x" + std::to_string(in[2])},
          {"epochs run", h.epochs()},
          {"batch", a.batch},
          {"optimizer", a.optimizer},
          {"learning rate", a.lr},
          {"augmentation", augmentation.enabled() ? to_string(augmentation) : "none"},
          {"group by", a.group_by.empty() ? "none" : a.group_by},
          {"seed", a.seed},
          {"train images", train.size()},
          {"validation images", val.size()},
          {"train_seconds", train_seconds},
          {"model file", a.out}};
      std::vector<std::string> test_groups;  // accuracy per group on the page
      if (!a.group_by.empty()) {
        std::vector<fs::path> paths;
        for (int64_t i = 0; i < test->size(); ++i) paths.push_back(test->path(i));
        test_groups = file_groups(paths, a.group_by);
      }
      write_cli_report(a.report, {.title = "moodnet train: " + arch + " on " + data_dir.string(),
                                  .model = &model,
                                  .test = test.get(),
                                  .evaluation = &e,
                                  .history = &h,
                                  .kept_epoch = kept_epoch,
                                  .groups = test_groups,
                                  .run = run});
      result["report"] = a.report;
    }
  }
  if (a.json) std::cout << result.dump() << "\n";
  return 0;
}

}  // namespace moodnet::cli
