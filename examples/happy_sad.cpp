// happy_sad: train a happy-vs-sad classifier on a folder of photos, report, save it, and
// classify new photos. It uses moodnet as a library; the `moodnet` program does the same with
// every option.
//
//   happy_sad DATA_DIR [MODEL_OUT] [PHOTO...]
//
// DATA_DIR holds one sub-folder per class, e.g. DATA_DIR/happy/*.jpg and DATA_DIR/sad/*.jpg
// (sub-folders of those are searched too). The recipe is seed 004's best model
// (`seed004-attempt3`: four 3x3 conv blocks, Dense 256, Adam 1e-3) at 150x150 RGB, trained on a
// stratified 70/15/15 split and kept at its best validation epoch.
#include <cstdio>
#include <exception>
#include <iostream>
#include <moodnet/moodnet.hpp>
#include <string>

using namespace moodnet;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: happy_sad DATA_DIR [MODEL_OUT] [PHOTO...]\n";
    return 2;
  }
  const std::string data_dir = argv[1];
  const std::string model_out = argc > 2 ? argv[2] : "happy_sad.moodnet";
  try {
    // 1. The data: class folders in sorted order (happy = 0, sad = 1), split per class.
    const ImageFolder folder = scan_image_folder(data_dir, {"happy", "sad"});
    const uint64_t seed = 42;
    const Split split = stratified_split(folder.labels, /*validation=*/0.15, /*test=*/0.15, seed);

    // Every image is decoded once and kept as 150x150 RGB bytes; batches are scaled to [0, 1].
    ImageDatasetOptions images;
    images.height = images.width = 150;
    images.color_mode = ColorMode::rgb;
    ImageDataset train(folder, split.train, images), val(folder, split.validation, images),
        test(folder, split.test, images);
    for (const auto* d : {&train, &val, &test})
      for (const auto& s : d->skipped())
        std::cerr << "skipped " << s.path.string() << ": " << s.reason << "\n";
    std::printf("%lld train, %lld validation, %lld test images\n",
                static_cast<long long>(train.size()), static_cast<long long>(val.size()),
                static_cast<long long>(test.size()));

    // 2. The model: an architecture from the zoo, with what later predictions need to know.
    Model<Cpu> model = zoo::build<Cpu>("seed004-attempt3", seed);
    set_image_metadata(model, folder.class_names, ColorMode::rgb);
    std::cout << model.summary();

    // 3. Training: Adam, binary cross-entropy on the sigmoid output, 20 epochs at most, stop
    //    after 5 epochs without a better validation loss and keep the best weights.
    Adam<Cpu> adam({.learning_rate = 1e-3});
    FitOptions fit_options;
    fit_options.epochs = 20;
    fit_options.batch_size = 16;
    fit_options.seed = seed;
    fit_options.validation = &val;
    EarlyStopping<Cpu> early_stopping(
        {.monitor = "val_loss", .patience = 5, .restore_best_weights = true});
    const History history =
        fit(model, adam, Loss::binary_crossentropy(), train, fit_options, {&early_stopping});
    std::printf("stopped after %d epochs; best val_loss %.4f\n", history.epochs(),
                history["val_loss"][static_cast<size_t>(early_stopping.best_epoch())]);

    // 4. The held-out test photos: precision, recall and F1 per class, confusion matrix, AUC.
    const ClassifierEvaluation eval = evaluate_classifier(model, test, folder.class_names);
    std::cout << "\ntest set\n" << eval.report.to_string();
    std::printf("ROC AUC %.3f\n", eval.auc);

    // 5. Save (architecture, weights and metadata in one file), then classify the given photos
    //    with the model loaded back, as another program would.
    save_model(model, model_out);
    std::printf("saved %s\n", model_out.c_str());
    const Model<Cpu> loaded = load_model<Cpu>(model_out);
    for (int i = 3; i < argc; ++i) {
      try {
        const ImageClassification c = classify_image(loaded, argv[i]);
        std::printf("%s: %s %.1f %%\n", argv[i], c.class_name.c_str(), 100 * c.confidence);
      } catch (const Error& e) {  // an unreadable photo does not end the program
        std::cerr << "error: " << e.what() << "\n";
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
