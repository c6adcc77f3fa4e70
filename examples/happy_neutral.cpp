// happy_neutral: tell happy faces from neutral ones on FER2013-style data (48x48 grayscale face
// crops with separate train and test folders), then classify new photos.
//
//   happy_neutral DATA_DIR [MODEL_OUT] [PHOTO...]
//
// DATA_DIR holds train/<class>/ and test/<class>/ folders; only the happy and neutral classes
// are used, so a folder with more emotions (fer2013 has sad, angry, ...) works as it is. The
// model is `fer-cnn` (three double-conv BatchNorm blocks, Dense 128), trained with Adam and a
// learning rate that drops when the validation loss stalls.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <moodnet/moodnet.hpp>
#include <numeric>
#include <string>

using namespace moodnet;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: happy_neutral DATA_DIR [MODEL_OUT] [PHOTO...]\n";
    return 2;
  }
  const fs::path data_dir = argv[1];
  const std::string model_out = argc > 2 ? argv[2] : "happy_neutral.moodnet";
  try {
    // An explicit class list picks two of the emotion folders, in this order (happy = 0).
    const std::vector<std::string> classes{"happy", "neutral"};
    const ImageFolder train_folder = scan_image_folder(data_dir / "train", classes);
    const ImageFolder test_folder = scan_image_folder(data_dir / "test", classes);

    // 10 % of the training folder, per class, is held out to watch over-fitting.
    const uint64_t seed = 7;
    const Split split = stratified_split(train_folder.labels, 0.10, 0.0, seed);
    std::vector<int64_t> all_test(test_folder.files.size());
    std::iota(all_test.begin(), all_test.end(), 0);

    ImageDatasetOptions faces;
    faces.height = faces.width = 48;
    faces.color_mode = ColorMode::grayscale;
    ImageDataset train(train_folder, split.train, faces),
        val(train_folder, split.validation, faces), test(test_folder, all_test, faces);
    std::printf("%lld train, %lld validation, %lld test faces\n",
                static_cast<long long>(train.size()), static_cast<long long>(val.size()),
                static_cast<long long>(test.size()));

    Model<Cpu> model = zoo::build<Cpu>("fer-cnn", seed);
    set_image_metadata(model, classes, ColorMode::grayscale);

    // Callbacks see every epoch: halve the learning rate after 2 epochs without progress, stop
    // after 4 and go back to the best epoch's weights.
    Adam<Cpu> adam({.learning_rate = 1e-3});
    ReduceLROnPlateau<Cpu> reduce_lr({.monitor = "val_loss", .factor = 0.5, .patience = 2});
    EarlyStopping<Cpu> early_stopping(
        {.monitor = "val_loss", .patience = 4, .restore_best_weights = true});
    FitOptions fit_options;
    fit_options.epochs = 15;
    fit_options.batch_size = 64;
    fit_options.seed = seed;
    fit_options.validation = &val;
    fit(model, adam, Loss::binary_crossentropy(), train, fit_options,
        {&reduce_lr, &early_stopping});

    const ClassifierEvaluation eval = evaluate_classifier(model, test, classes);
    std::cout << "\nFER2013 test faces\n" << eval.report.to_string();
    std::printf("ROC AUC %.3f\n", eval.auc);

    save_model(model, model_out);
    std::printf("saved %s\n", model_out.c_str());
    for (int i = 3; i < argc; ++i) {
      try {
        const ImageClassification c = classify_image(model, argv[i]);
        std::printf("%s: %s %.1f %%\n", argv[i], c.class_name.c_str(), 100 * c.confidence);
      } catch (const Error& e) {
        std::cerr << "error: " << e.what() << "\n";
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
