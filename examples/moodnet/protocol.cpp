// `moodnet train --protocol NAME`: a seed's documented recipe fills every option the command
// line did not give. Needs only the protocol table, so this file compiles in about a second.
#include <algorithm>
#include <iostream>
#include <moodnet/train/protocols.hpp>

#include "commands.hpp"

namespace moodnet::cli {

void apply_protocol(TrainArgs& a) {
  const TrainingProtocol* p = nullptr;
  try {
    p = &training_protocol(a.protocol);
  } catch (const Error& e) {
    throw UsageError(std::string("--protocol: ") + e.what());
  }
  const auto given = [&](const char* option) {
    return std::find(a.given.begin(), a.given.end(), option) != a.given.end();
  };
  if (!given("--arch")) a.arch = p->arch;
  if (!given("--image-size"))
    a.image_size = std::to_string(p->height) + "," + std::to_string(p->width);
  if (!given("--color")) a.color = p->color();
  if (!given("--optimizer")) a.optimizer = p->optimizer;
  if (!given("--lr")) a.lr = p->learning_rate;
  if (!given("--batch")) a.batch = p->batch_size;
  if (!given("--epochs")) a.epochs = p->epochs;
  if (!given("--val-split")) a.val_split = p->validation_split;
  if (!given("--test-split")) a.test_split = p->test_split;
  if (!given("--augment")) a.augment = p->augmentation;
  if (!given("--early-stopping")) a.early_stopping = p->early_stopping;
  if (!given("--keep")) a.keep = p->keep;
  std::cout << "protocol " << p->name << " (" << p->source
            << "): " << (a.model_file.empty() ? a.arch : a.model_file) << " at " << a.image_size
            << " " << a.color << ", " << a.optimizer << " lr " << a.lr << ", batch " << a.batch
            << ", " << a.epochs << " epochs, validation " << a.val_split << ", test "
            << a.test_split << ", augmentation " << (a.augment.empty() ? "none" : a.augment)
            << (a.early_stopping.empty() ? "" : ", early stopping " + a.early_stopping) << "\n";
}

}  // namespace moodnet::cli
