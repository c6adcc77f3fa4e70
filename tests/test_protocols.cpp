// The seed protocols (`moodnet train --protocol NAME`): lookup, and fields against
// ARCHITECTURES.md's "Training protocols as the seeds ran them".
#include <algorithm>
#include <catch2/catch.hpp>
#include <moodnet/moodnet.hpp>

using namespace moodnet;

TEST_CASE("protocols: an unknown name throws, listing every known one", "[protocols]") {
  REQUIRE_THROWS_AS(training_protocol("seed009"), Error);
  try {
    training_protocol("seed009");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("unknown training protocol 'seed009'"));
    for (const char* name : {"seed000-baseline", "seed000-augment", "seed000-transfer", "seed001",
                             "seed002", "seed003", "seed004", "fer-best"})
      CHECK_THAT(msg, Catch::Contains(name));
  }
  CHECK(training_protocols().size() == 8);
  CHECK(&training_protocol("seed004") == &training_protocols()[6]);
}

TEST_CASE("protocols: seed004 is the seed's recipe", "[protocols]") {
  // ARCHITECTURES.md: Adam 1e-3, batch 16, 20 epochs, stratified 75 / 25 %, no augmentation,
  // 150x150x3 inputs.
  const TrainingProtocol& p = training_protocol("seed004");
  CHECK(p.arch == "seed004-attempt3");
  CHECK(p.height == 150);
  CHECK(p.width == 150);
  CHECK(p.channels == 3);
  CHECK(p.color() == "rgb");
  CHECK(p.optimizer == "adam");
  CHECK(p.learning_rate == 1e-3);
  CHECK(p.batch_size == 16);
  CHECK(p.epochs == 20);
  CHECK(p.validation_split + p.test_split == Approx(0.25));
  CHECK(p.test_split == Approx(0.25));
  CHECK(p.augmentation.empty());
  CHECK(p.early_stopping.empty());
}

TEST_CASE("protocols: the other seeds' rows and fer-best", "[protocols]") {
  const TrainingProtocol& s0 = training_protocol("seed000-augment");
  CHECK(s0.optimizer == "rmsprop");
  CHECK(s0.learning_rate == 1e-4);
  CHECK(s0.augmentation == "seed000");
  CHECK(training_protocol("seed000-baseline").augmentation.empty());
  // The transfer row: Adam 2e-5, EarlyStopping(monitor=loss, patience=3), seed000's warps.
  const TrainingProtocol& st = training_protocol("seed000-transfer");
  CHECK((st.arch == "seed000-transfer" && st.height == 224 && st.width == 224));
  CHECK((st.optimizer == "adam" && st.learning_rate == 2e-5 && st.epochs == 100));
  CHECK((st.early_stopping == "loss:3" && st.augmentation == "seed000" && st.keep == "last"));
  const TrainingProtocol& s1 = training_protocol("seed001");
  CHECK((s1.height == 256 && s1.batch_size == 32 && s1.epochs == 20));
  const TrainingProtocol& s2 = training_protocol("seed002");
  CHECK((s2.arch == "seed002" && s2.validation_split == 0.2 && s2.test_split == 0.1));
  const TrainingProtocol& s3 = training_protocol("seed003");
  CHECK((s3.height == 56 && s3.epochs == 15 && s3.validation_split == 0.15));
  CHECK(s3.augmentation == "seed003");
  const TrainingProtocol& fer = training_protocol("fer-best");
  CHECK((fer.arch == "fer-cnn" && fer.height == 48 && fer.width == 48 && fer.channels == 1));
  CHECK((fer.optimizer == "adam" && fer.learning_rate == 1e-3 && fer.batch_size == 64));
  CHECK((fer.epochs == 15 && fer.augmentation == "hflip"));
}

TEST_CASE("protocols: every entry is usable as it stands", "[protocols]") {
  const auto archs = zoo::architectures();
  for (const TrainingProtocol& p : training_protocols()) {
    INFO(p.name);
    CHECK(std::any_of(archs.begin(), archs.end(), [&](const auto& a) { return a.name == p.arch; }));
    CHECK_NOTHROW(parse_augmentation(p.augmentation));
    CHECK_NOTHROW(make_optimizer<Cpu>(p.optimizer, {{"learning_rate", p.learning_rate}}));
    CHECK((p.channels == 1 || p.channels == 3));
    CHECK((p.height > 0 && p.width > 0 && p.batch_size > 0 && p.epochs > 0));
    CHECK((p.validation_split >= 0 && p.test_split >= 0));
    CHECK(p.validation_split + p.test_split < 1);
    CHECK((p.early_stopping.empty() || p.early_stopping.find(':') != std::string::npos));
    CHECK(!p.source.empty());
  }
}
