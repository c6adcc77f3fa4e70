// moodnet: the command line. Train a happy/sad classifier on a folder of images, evaluate it,
// classify new photos, and inspect the reference architectures.
//
//   moodnet train [--data DIR] [--arch NAME] [--epochs N] ... [--out model.moodnet]
//   moodnet evaluate --model FILE --data DIR
//   moodnet predict --model FILE IMAGE...
//   moodnet summary (--arch NAME | --model FILE | --list)
//
// Exit codes: 0 success, 1 a failure while running (bad file, bad data), 2 bad arguments.
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <moodnet/moodnet.hpp>

namespace fs = std::filesystem;
using namespace moodnet;

namespace {

#ifndef MOODNET_SAMPLE_DIR
#define MOODNET_SAMPLE_DIR "data/sample"
#endif

std::atomic<bool> g_stop{false};

// The embedded sample: the source tree's copy, else the installed share/moodnet/sample.
fs::path sample_dir() {
  if (fs::is_directory(MOODNET_SAMPLE_DIR)) return MOODNET_SAMPLE_DIR;
  std::error_code ec;
  const fs::path installed =
      fs::read_symlink("/proc/self/exe", ec).parent_path() / "../share/moodnet/sample";
  return fs::is_directory(installed) ? installed : fs::path(MOODNET_SAMPLE_DIR);
}

// Parses "H,W" (or one number for a square).
Shape parse_image_size(const std::string& s, int64_t channels) {
  const auto comma = s.find(',');
  try {
    const int64_t h = std::stoll(s.substr(0, comma));
    const int64_t w = comma == std::string::npos ? h : std::stoll(s.substr(comma + 1));
    if (h > 0 && w > 0) return {h, w, channels};
  } catch (const std::exception&) {
  }
  throw CLI::ValidationError("--image-size", "expected H,W (e.g. 150,150), got '" + s + "'");
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// A data folder as the shared sets and Keras users lay them out: DIR/{train,test}/CLASS,
// DIR/all/CLASS, or DIR/CLASS.
struct DataLayout {
  fs::path train_dir, test_dir;  // test_dir empty: split the train folder
};
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

struct Evaluated {
  ClassificationReport report;
  double auc = 0.5;
};

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

struct TrainArgs {
  // Defaults: seed 004's protocol (Adam 1e-3, batch 16, 20 epochs) and its best model.
  std::string data, arch = "seed004-attempt3", out = "moodnet-model.moodnet", optimizer = "adam",
                    classes, image_size, color;
  int epochs = 20;
  int64_t batch = 16;
  double lr = 1e-3, val_split = 0.15, test_split = 0.2;
  uint64_t seed = 42;
  int threads = 0;
  bool json = false;
};

int run_train_on(const TrainArgs& a, const fs::path& data_dir);

int run_train(const TrainArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  TrainArgs args = a;
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
  const DataLayout layout = resolve_layout(data_dir);

  // Input shape: the architecture's unless --image-size/--color say otherwise.
  Shape in = zoo::default_input_shape(a.arch);
  const ColorMode color = a.color.empty() ? (in[2] == 1 ? ColorMode::grayscale : ColorMode::rgb)
                          : a.color == "grayscale" ? ColorMode::grayscale
                                                   : ColorMode::rgb;
  const int64_t channels = color == ColorMode::grayscale ? 1 : 3;
  in = a.image_size.empty() ? Shape{in[0], in[1], channels}
                            : parse_image_size(a.image_size, channels);

  const ImageFolder folder = scan_image_folder(layout.train_dir, split_list(a.classes));
  const Split split = stratified_split(folder.labels, a.val_split,
                                       layout.test_dir.empty() ? a.test_split : 0.0, a.seed);
  std::cout << "classes: ";
  for (size_t k = 0; k < folder.class_names.size(); ++k)
    std::cout << (k ? ", " : "") << k << "=" << folder.class_names[k];
  std::cout << "\nimages: " << split.train.size() << " train, " << split.validation.size()
            << " validation";

  ImageDataset train(folder, split.train, in[0], in[1], color);
  ImageDataset val(folder, split.validation, in[0], in[1], color);
  std::unique_ptr<ImageDataset> test;
  if (!layout.test_dir.empty()) {
    const ImageFolder test_folder = scan_image_folder(layout.test_dir, folder.class_names);
    std::vector<int64_t> all(test_folder.files.size());
    std::iota(all.begin(), all.end(), 0);
    test = std::make_unique<ImageDataset>(test_folder, all, in[0], in[1], color);
  } else if (!split.test.empty()) {
    test = std::make_unique<ImageDataset>(folder, split.test, in[0], in[1], color);
  }
  std::cout << ", " << (test ? test->size() : 0) << " test (" << in[0] << "x" << in[1] << "x"
            << in[2] << ")\n";
  print_skipped(train);
  print_skipped(val);
  if (test) print_skipped(*test);

  const int64_t k = static_cast<int64_t>(folder.class_names.size());
  MOODNET_CHECK(k == 2, "moodnet train handles two classes for now (happy vs sad); ",
                data_dir.string(), " has ", k, " — pick two with --classes");
  Model<Cpu> model = zoo::build<Cpu>(a.arch, a.seed, in);
  // What predict/evaluate need to feed the model the way it was trained.
  model.metadata() = {{"class_names", folder.class_names},
                      {"color_mode", to_string(color)},
                      {"scale", 1.0 / 255},
                      {"arch", a.arch}};
  std::cout << model.summary();
  auto optimizer = make_optimizer<Cpu>(a.optimizer, {{"learning_rate", a.lr}});
  FitOptions opt;
  opt.epochs = a.epochs;
  opt.batch_size = a.batch;
  opt.seed = a.seed;
  opt.validation = val.size() > 0 ? &val : nullptr;
  opt.stop_requested = &g_stop;
  const Loss loss = Loss::binary_crossentropy();
  EarlyStopping<Cpu> best({.monitor = opt.validation ? "val_accuracy" : "accuracy",
                           .patience = a.epochs + 1,
                           .restore_best_weights = true});
  std::signal(SIGINT, [](int) { g_stop = true; });
  const auto t0 = std::chrono::steady_clock::now();
  const History h = fit(model, *optimizer, loss, train, opt, {&best});
  const double train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "trained " << h.epochs() << " epochs in " << train_seconds << " s; keeping epoch "
            << best.best_epoch() + 1 << " (best " << (opt.validation ? "val_accuracy" : "accuracy")
            << ")\n";

  save_model(model, a.out, optimizer.get());
  std::cout << "saved " << a.out << "\n";

  nlohmann::json result = {
      {"train_seconds", train_seconds}, {"epochs", h.epochs()}, {"model", a.out}};
  if (test && test->size() > 0) {
    const Evaluated e = evaluate_dataset(model, *test);
    std::cout << "\ntest set (" << e.report.n << " images)\n" << e.report.to_string();
    std::printf("ROC AUC %.3f\n", e.auc);
    result.update(e.report.to_json());
    result["auc"] = e.auc;
  }
  if (a.json) std::cout << result.dump() << "\n";
  return 0;
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moodnet: train and run happy/sad image classifiers on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("moodnet ") + version_string());

  TrainArgs t;
  auto* train =
      app.add_subcommand("train", "train a classifier on a folder of images, evaluate it, save it");
  train->add_option("--data", t.data,
                    "image folder: DIR/{train,test}/CLASS, DIR/all/CLASS or DIR/CLASS "
                    "(default: the embedded sample)");
  train->add_option("--arch", t.arch, "architecture (see `moodnet summary --list`)")
      ->capture_default_str();
  train->add_option("--classes", t.classes, "comma-separated class folders to use, e.g. happy,sad");
  train->add_option("--image-size", t.image_size, "H,W (default: the architecture's)");
  train->add_option("--color", t.color, "rgb or grayscale (default: the architecture's)")
      ->check(CLI::IsMember({"rgb", "grayscale"}));
  train->add_option("--epochs", t.epochs)->capture_default_str()->check(CLI::Range(1, 100000));
  train->add_option("--batch", t.batch)->capture_default_str()->check(CLI::Range(1, 1 << 20));
  train->add_option("--optimizer", t.optimizer)
      ->capture_default_str()
      ->check(CLI::IsMember({"adam", "rmsprop", "sgd"}));
  train->add_option("--lr", t.lr, "learning rate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  train->add_option("--val-split", t.val_split)->capture_default_str()->check(CLI::Range(0.0, 0.9));
  train->add_option("--test-split", t.test_split, "used when the folder has no test/ split")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.9));
  train->add_option("--seed", t.seed)->capture_default_str();
  train->add_option("--threads", t.threads, "OpenMP threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  train->add_option("--out", t.out, "where to save the trained model")->capture_default_str();
  train->add_flag("--json", t.json, "print the results as one JSON line at the end");

  std::string model_path, data, classes;
  bool json = false;
  auto* evaluate = app.add_subcommand("evaluate", "evaluate a saved model on a folder of images");
  evaluate->add_option("--model", model_path)->required();
  evaluate->add_option("--data", data)->required();
  evaluate->add_option("--classes", classes);
  evaluate->add_flag("--json", json);

  std::vector<std::string> images;
  std::string class_names;
  auto* predict = app.add_subcommand("predict", "classify images with a saved model");
  predict->add_option("--model", model_path)->required();
  predict->add_option("--classes", class_names,
                      "names of class 0 and class 1 (default: saved with the model)");
  predict->add_option("images", images, "image files")->required();
  predict->add_flag("--json", json);

  std::string arch;
  bool list = false;
  auto* summary =
      app.add_subcommand("summary", "print a model's layers and parameter counts (Keras style)");
  auto* arch_opt = summary->add_option("--arch", arch, "architecture name");
  summary->add_option("--model", model_path, "a saved model file")->excludes(arch_opt);
  summary->add_flag("--list", list, "list the architectures");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*train) return run_train(t);
    if (*evaluate) return run_evaluate(model_path, data, classes, json);
    if (*predict) return run_predict(model_path, images, split_list(class_names), json);
    if (*summary) {
      if (list) {
        for (const auto& a : zoo::architectures())
          std::printf("%-18s %s\n", a.name.c_str(), a.description.c_str());
        return 0;
      }
      if (!model_path.empty()) {
        std::cout << load_model<Cpu>(model_path).summary();
        return 0;
      }
      if (arch.empty()) {
        std::cerr << "summary: give --arch NAME, --model FILE or --list\n";
        return 2;
      }
      try {
        std::cout << zoo::build<Cpu>(arch).summary();
      } catch (const Error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
      }
      return 0;
    }
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
