// moodnet: the command line. Train a happy/sad classifier on a folder of images, evaluate it,
// classify new photos, and inspect the reference architectures.
//
//   moodnet train [--data DIR] [--arch NAME | --model FILE] [--epochs N] ... [--out model.moodnet]
//   moodnet evaluate --model FILE --data DIR [--report DIR]
//   moodnet predict --model FILE IMAGE...
//   moodnet summary (--arch NAME | --model FILE | --list)
//   moodnet inspect DIR [--json] [--max-pixels N]
//   moodnet augment DIR --out DIR --copies N --augment SPEC
//   moodnet tune --data DIR [--trials N] [--epochs N] [--seed N] [--out FILE] [--json]
//
// Exit codes: 0 success, 1 a failure while running (bad file, bad data), 2 bad arguments.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "commands.hpp"

using namespace moodnet;
using namespace moodnet::cli;

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
  auto* train_arch =
      train->add_option("--arch", t.arch, "architecture (see `moodnet summary --list`)")
          ->capture_default_str();
  train
      ->add_option("--model", t.model_file,
                   "start from a saved model (its architecture, input, weights and class order) "
                   "instead of --arch; the optimizer starts fresh")
      ->excludes(train_arch);
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
  train->add_option("--test-data", t.test_data, "a separate test folder (DIR/CLASS)");
  train->add_option("--augment", t.augment,
                    "training-time augmentation, e.g. rotation=40,shift=0.2,shear=0.2,zoom=0.2,"
                    "hflip, or a seed's preset: seed000, seed003");
  train->add_option("--group-by", t.group_by,
                    "regex whose first capture group names a file's person/group, kept on one "
                    "side of every split (e.g. '^(S[0-9]+)_' for CK+)");
  train->add_option("--early-stopping", t.early_stopping,
                    "MONITOR:PATIENCE, e.g. val_loss:5 (with --keep best, its best weights)");
  train->add_option("--reduce-lr", t.reduce_lr, "MONITOR:FACTOR:PATIENCE, e.g. val_loss:0.5:2");
  train->add_option("--protocol", t.protocol,
                    "a seed's documented recipe (arch, input, optimizer, lr, batch, epochs, split, "
                    "augmentation), e.g. seed004 or fer-best; options given here override it");
  train
      ->add_option("--keep", t.keep,
                   "weights to keep: best (the best validation accuracy, else training accuracy, "
                   "or --early-stopping's monitor) or last (as Keras' fit leaves them)")
      ->capture_default_str()
      ->check(CLI::IsMember({"best", "last"}));
  train->add_option("--split-seed", t.split_seed,
                    "seed of the train/validation/test split (default: --seed), e.g. to keep one "
                    "split while varying the initialisation");
  train->add_option("--l2", t.l2, "L2 on every Conv2D/Dense kernel (Keras kernel_regularizer)")
      ->check(CLI::NonNegativeNumber);
  train->add_option("--class-weight", t.class_weight,
                    "weigh each class's training loss (Keras class_weight): balanced "
                    "(n / (classes * count), for folders with far fewer images of one class) "
                    "or one weight per class in class order, e.g. 1,4");
  train
      ->add_option("--fine-tune", t.fine_tune,
                   "pretrained architectures: also train the last K backbone blocks (their "
                   "convolutions, at 0.1x the learning rate; BatchNorm stays frozen)")
      ->check(CLI::Range(1, 1000));
  train->add_flag("--json", t.json, "print the results as one JSON line at the end");
  train->add_flag("--tta", t.tta,
                  "score each test image as the mean of the model's outputs on it and on its "
                  "mirror image (test-time augmentation)");
  train->add_flag("--prefetch", t.prefetch,
                  "load the next batch on a worker thread while one trains (same results; pays "
                  "when loading waits on a slow disk or cores are idle)");
  train->add_option("--report", t.report,
                    "write an HTML report (curves, confusion, ROC, calibration, errors) and "
                    "history.csv, metrics.json, curves.png, confusion.png into DIR");

  std::string model_path, data, classes, report_dir;
  bool json = false;
  auto* evaluate = app.add_subcommand("evaluate", "evaluate a saved model on a folder of images");
  evaluate->add_option("--model", model_path)->required();
  evaluate->add_option("--data", data)->required();
  evaluate->add_option("--classes", classes);
  evaluate->add_flag("--json", json);
  bool tta = false;
  evaluate->add_flag("--tta", tta,
                     "score each image as the mean of the model's outputs on it and on its mirror "
                     "image (test-time augmentation)");
  evaluate->add_option("--report", report_dir,
                       "write an HTML report and metrics.json, confusion.png into DIR");

  std::vector<std::string> images;
  std::string class_names;
  auto* predict = app.add_subcommand("predict", "classify images with a saved model");
  predict->add_option("--model", model_path)->required();
  predict->add_option("--classes", class_names,
                      "names of class 0 and class 1 (default: saved with the model)");
  predict->add_option("images", images, "image files")->required();
  predict->add_flag("--json", json);
  predict->add_flag("--tta", tta,
                    "score each image as the mean of the model's outputs on it and on its mirror "
                    "image (test-time augmentation)");

  std::string arch;
  bool list = false;
  auto* summary =
      app.add_subcommand("summary", "print a model's layers and parameter counts (Keras style)");
  auto* arch_opt = summary->add_option("--arch", arch, "architecture name");
  summary->add_option("--model", model_path, "a saved model file")->excludes(arch_opt);
  summary->add_flag("--list", list, "list the architectures");

  std::string inspect_dir;
  int64_t max_pixels = 64'000'000;  // the library's default_max_image_pixels
  auto* inspect = app.add_subcommand(
      "inspect", "check a data folder: counts, unreadable files, duplicates, shortcuts");
  inspect->add_option("dir", inspect_dir, "DIR/CLASS/... or DIR/SPLIT/CLASS/...")->required();
  inspect->add_option("--max-pixels", max_pixels, "larger images count as unreadable")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  inspect->add_flag("--json", json, "print the report as one JSON line at the end");

  std::string augment_dir, augment_out, augment_spec;
  int copies = 1;
  uint64_t augment_seed = 42;
  bool augment_jpeg = false;
  auto* augment = app.add_subcommand(
      "augment", "write augmented copies of every image of a folder (offline augmentation)");
  augment->add_option("dir", augment_dir, "DIR/CLASS/... to read")->required();
  augment->add_option("--out", augment_out, "folder to write OUT/CLASS/...")->required();
  augment->add_option("--copies", copies, "variants per image")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  augment->add_option("--augment", augment_spec, "e.g. rotation=10,zoom=0.1,hflip or seed003")
      ->required();
  augment->add_option("--seed", augment_seed)->capture_default_str();
  augment->add_flag("--jpeg", augment_jpeg, "write JPEG (quality 95) instead of PNG");

  TuneArgs u;
  auto* tune = app.add_subcommand(
      "tune",
      "seeded random search over seed004-attempt4's conv filters, dense units and "
      "learning rate; prints the trials and saves the best model");
  tune->add_option("--data", u.data, "image folder, laid out as for train")->required();
  tune->add_option("--trials", u.trials)->capture_default_str()->check(CLI::Range(1, 10000));
  tune->add_option("--epochs", u.epochs, "per trial")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  tune->add_option("--batch", u.batch)->capture_default_str()->check(CLI::Range(1, 1 << 20));
  tune->add_option("--val-split", u.val_split, "stratified validation part (the objective)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 0.9));
  tune->add_option("--classes", u.classes, "comma-separated class folders to use, e.g. happy,sad");
  tune->add_option("--image-size", u.image_size, "H,W (default: 150,150, as seed 004)");
  tune->add_option("--color", u.color, "rgb or grayscale (default: rgb)")
      ->check(CLI::IsMember({"rgb", "grayscale"}));
  tune->add_option("--seed", u.seed)->capture_default_str();
  tune->add_option("--threads", u.threads, "OpenMP threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  tune->add_option("--out", u.out, "where to save the best model")->capture_default_str();
  tune->add_flag("--json", u.json, "print every trial and the best as one JSON line at the end");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*train) {
      for (const CLI::Option* o : train->get_options())  // for --protocol: what was given
        if (o->count() > 0 && !o->get_lnames().empty())
          t.given.push_back("--" + o->get_lnames()[0]);
      return run_train(t);
    }
    if (*evaluate) return run_evaluate(model_path, data, classes, json, report_dir, tta);
    if (*predict) return run_predict(model_path, images, split_list(class_names), json, tta);
    if (*summary) return run_summary(arch, model_path, list);
    if (*inspect) return run_inspect(inspect_dir, json, max_pixels);
    if (*augment)
      return run_augment(augment_dir, augment_out, copies, augment_spec, augment_seed,
                         augment_jpeg);
    if (*tune) return run_tune(u);
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
