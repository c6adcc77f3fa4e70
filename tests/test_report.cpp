// Training reports (train/report.hpp): files, numbers, escaping, offline HTML, PNG renderings.
#include <stb/stb_image.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <moodnet/train/report.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace fs = std::filesystem;
using moodnet::test::TempDir;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> s;
  for (const auto& e : fs::directory_iterator(dir)) s.insert(e.path().filename().string());
  return s;
}

const std::vector<std::string> kClasses{"a<b&c", "sad"};

// 40 test samples: class 0 has 22 (18 right, 4 called class 1), class 1 has 18 (15 right, 3
// called class 0). Scores are P(class 1), consistent with threshold 0.5.
moodnet::ReportInputs make_inputs() {
  moodnet::ReportInputs in;
  in.title = "Happy <vs> sad & co";
  in.model_summary = "Model: \"seq\"\n conv2d (Conv2D) (None, 8, 8, 4) 112\nTotal params: 112";
  for (int e = 0; e < 5; ++e)
    in.history.append({{"loss", 1.0 / (e + 1)},
                       {"accuracy", 0.5 + 0.08 * e},
                       {"val_loss", 1.1 / (e + 1) + 0.05},
                       {"val_accuracy", 0.45 + 0.07 * e},
                       {"lr", 0.001},
                       {"seconds", 0.25}});
  in.class_names = kClasses;
  auto& p = in.predictions;
  auto add = [&](int truth, int pred, int n) {
    for (int i = 0; i < n; ++i) {
      const double u = (i + 1) / double(n + 1);  // in (0, 1)
      p.truth.push_back(truth);
      p.predicted.push_back(pred);
      p.scores.push_back(pred == 1 ? 0.5 + 0.49 * u : 0.49 * u);
    }
  };
  add(0, 0, 18);
  add(0, 1, 4);
  add(1, 1, 15);
  add(1, 0, 3);
  const char* groups[] = {"young", "old", "mid"};
  for (size_t i = 0; i < p.truth.size(); ++i) in.groups.push_back(groups[i % 3]);
  in.group_name = "age";
  in.images = [](int64_t i) {
    moodnet::ReportImage im;
    im.width = 6;
    im.height = 5;
    im.channels = 3;
    for (int k = 0; k < 6 * 5 * 3; ++k) im.pixels.push_back(static_cast<uint8_t>(k * 5 + i));
    im.label = "faces/<x>&" + std::to_string(i) + ".png";
    return im;
  };
  in.extra = {{"train_seconds", 1.5}, {"arch", "seed004-attempt3"}, {"dataset", "getty"}};
  in.kept_epoch = 4;
  return in;
}

}  // namespace

TEST_CASE("write_report writes every file with the inputs' numbers", "[report]") {
  TempDir tmp("moodnet_report");
  const fs::path dir = tmp.path / "new" / "report";  // created, parents too
  const auto in = make_inputs();
  moodnet::write_report(dir, in);

  REQUIRE(names_in(dir) == std::set<std::string>{"index.html", "history.csv", "metrics.json",
                                                 "curves.png", "confusion.png"});

  // metrics.json against numbers computed here from the confusion [[18, 4], [3, 15]].
  const auto j = nlohmann::json::parse(slurp(dir / "metrics.json"));
  CHECK(j["accuracy"].get<double>() == Approx(33.0 / 40));
  CHECK(j["n_test"].get<int>() == 40);
  CHECK(j["confusion"] == nlohmann::json::parse("[[18, 4], [3, 15]]"));
  const double p0 = 18.0 / 21, r0 = 18.0 / 22, p1 = 15.0 / 19, r1 = 15.0 / 18;
  const double f0 = 2 * p0 * r0 / (p0 + r0), f1 = 2 * p1 * r1 / (p1 + r1);
  CHECK(j["precision"]["a<b&c"].get<double>() == Approx(p0));
  CHECK(j["recall"]["a<b&c"].get<double>() == Approx(r0));
  CHECK(j["f1"]["a<b&c"].get<double>() == Approx(f0));
  CHECK(j["precision"]["sad"].get<double>() == Approx(p1));
  CHECK(j["recall"]["sad"].get<double>() == Approx(r1));
  CHECK(j["f1"]["sad"].get<double>() == Approx(f1));
  CHECK(j["support"]["a<b&c"].get<int>() == 22);
  CHECK(j["macro_avg"]["precision"].get<double>() == Approx((p0 + p1) / 2));
  CHECK(j["macro_avg"]["recall"].get<double>() == Approx((r0 + r1) / 2));
  CHECK(j["macro_avg"]["f1"].get<double>() == Approx((f0 + f1) / 2));
  CHECK(j["weighted_avg"]["precision"].get<double>() == Approx((22 * p0 + 18 * p1) / 40));
  CHECK(j["weighted_avg"]["recall"].get<double>() == Approx((22 * r0 + 18 * r1) / 40));
  CHECK(j["weighted_avg"]["f1"].get<double>() == Approx((22 * f0 + 18 * f1) / 40));
  CHECK(j["threshold"].get<double>() == 0.5);
  CHECK(j["decision"] == "threshold");
  CHECK(j["kept_epoch"].get<int>() == 4);
  // The same numbers as the library's classification_report on these predictions.
  const auto rep =
      moodnet::classification_report(in.predictions.truth, in.predictions.predicted, kClasses);
  CHECK(j["confusion"] == nlohmann::json(rep.confusion));
  for (size_t c = 0; c < 2; ++c) {
    CHECK(j["precision"][kClasses[c]].get<double>() == rep.precision[c]);
    CHECK(j["recall"][kClasses[c]].get<double>() == rep.recall[c]);
    CHECK(j["f1"][kClasses[c]].get<double>() == rep.f1[c]);
  }
  CHECK(j["misclassified"].get<int>() == 7);
  CHECK(j["run"]["train_seconds"].get<double>() == 1.5);
  CHECK(j["run"]["arch"] == "seed004-attempt3");
  // AUC by counting (positive, negative) pairs, ties one half.
  const auto& p = in.predictions;
  double pairs = 0, wins = 0;
  for (size_t a = 0; a < p.truth.size(); ++a)
    for (size_t b = 0; b < p.truth.size(); ++b)
      if (p.truth[a] == 1 && p.truth[b] == 0) {
        ++pairs;
        wins += p.scores[a] > p.scores[b] ? 1 : p.scores[a] == p.scores[b] ? 0.5 : 0;
      }
  const double auc = wins / pairs;
  CHECK(j["auc"].get<double>() == Approx(auc));
  // Calibration bins hold every sample once.
  int64_t binned = 0;
  for (const auto& b : j["calibration"]["bins"]) {
    binned += b["count"].get<int64_t>();
    // An empty bin has no mean and no observed frequency (null, not 0).
    CHECK(b["observed"].is_null() == (b["count"].get<int64_t>() == 0));
  }
  CHECK(binned == 40);
  // The top bin holds the samples with P(sad) >= 0.9, counted here.
  int64_t in_top = 0, top_pos = 0;
  for (size_t i = 0; i < in.predictions.scores.size(); ++i)
    if (in.predictions.scores[i] >= 0.9) ++in_top, top_pos += in.predictions.truth[i] == 1;
  CHECK(j["calibration"]["bins"][9]["count"].get<int64_t>() == in_top);
  CHECK(j["calibration"]["bins"][9]["observed"].get<double>() == Approx(double(top_pos) / in_top));
  // Per-group accuracy, counted here.
  std::map<std::string, std::pair<int, int>> groups;
  for (size_t i = 0; i < p.truth.size(); ++i) {
    groups[in.groups[i]].first += 1;
    groups[in.groups[i]].second += p.truth[i] == p.predicted[i];
  }
  REQUIRE(j["group_accuracy"].size() == 3);
  for (const auto& [g, v] : groups)
    CHECK(j["group_accuracy"][g]["accuracy"].get<double>() == Approx(double(v.second) / v.first));

  // history.csv: a header and one row per epoch (History keys come in first-seen order, which
  // for a Logs map is alphabetical).
  std::istringstream csv(slurp(dir / "history.csv"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(csv, line);) lines.push_back(line);
  REQUIRE(lines.size() == 6);
  CHECK(lines[0] == "epoch,accuracy,loss,lr,seconds,val_accuracy,val_loss");
  CHECK(lines[1] == "1,0.5,1,0.001,0.25,0.45,1.15");
  CHECK(lines[5].rfind("5,", 0) == 0);

  // index.html: offline, escaped, complete.
  const std::string html = slurp(dir / "index.html");
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("a<b&c") == std::string::npos);
  CHECK(html.find("a&lt;b&amp;c") != std::string::npos);
  CHECK(html.find("Happy &lt;vs&gt; sad &amp; co") != std::string::npos);
  CHECK(html.find("faces/&lt;x&gt;&amp;") != std::string::npos);
  CHECK(html.find("Model: &quot;seq&quot;") != std::string::npos);
  CHECK(html.find(moodnet::draw::fmt("AUC = %.4f", auc)) != std::string::npos);
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("weights of epoch 4") != std::string::npos);
  CHECK(html.find("Decision threshold 0.50") != std::string::npos);
  CHECK(html.find("macro avg") != std::string::npos);
  CHECK(html.find("weighted avg") != std::string::npos);
  CHECK(html.find("f1-score") != std::string::npos);
  CHECK(html.find("seed004-attempt3") != std::string::npos);
  CHECK(html.find("<th>train_seconds</th>") < html.find("<th>arch</th>"));  // in the given order
  CHECK(count(html, "<figure class=\"miss\">") == 7);
  CHECK(count(html, "src=\"data:image/png;base64,") == 7);
  // The most confident mistakes first: the confidences shown never increase. The top one is class
  // 0 called class 1 at P(class 1) = 0.5 + 0.49 * 4/5.
  std::vector<double> shown;
  for (size_t at = html.find("</b> ("); at != std::string::npos; at = html.find("</b> (", at + 1))
    shown.push_back(std::stod(html.substr(at + 6)));
  REQUIRE(shown.size() == 7);
  CHECK(std::is_sorted(shown.rbegin(), shown.rend()));
  CHECK(shown[0] == Approx(89.2));
  for (const auto& [g, v] : groups)
    CHECK(html.find(moodnet::draw::fmt("<tr class=\"group\"><td>%s</td><td>%d</td><td>%d</td>"
                                       "<td>%.3f</td>",
                                       g.c_str(), v.first, v.second, double(v.second) / v.first)) !=
          std::string::npos);

  // The PNGs decode at their documented sizes.
  auto check_png = [](const fs::path& f, int w, int h) {
    CHECK(slurp(f).substr(0, 8) == "\x89PNG\r\n\x1a\n");
    int x = 0, y = 0, c = 0;
    unsigned char* px = stbi_load(f.string().c_str(), &x, &y, &c, 0);
    REQUIRE(px != nullptr);
    stbi_image_free(px);
    CHECK(x == w);
    CHECK(y == h);
    CHECK(c == 3);
  };
  check_png(dir / "curves.png", moodnet::draw::curves_png_width, moodnet::draw::curves_png_height);
  const auto [cw, ch] = moodnet::draw::confusion_png_size(2);
  check_png(dir / "confusion.png", cw, ch);
}

TEST_CASE("write_report caps the gallery and replaces an earlier report", "[report]") {
  TempDir tmp("moodnet_report");
  auto in = make_inputs();
  moodnet::write_report(tmp.path, in);
  in.max_gallery = 3;
  in.images = nullptr;
  in.groups.clear();
  moodnet::write_report(tmp.path, in);
  CHECK(names_in(tmp.path).size() == 5);  // no temporary files left
  const std::string html = slurp(tmp.path / "index.html");
  CHECK(count(html, "<figure class=\"miss\">") == 3);
  CHECK(html.find("data:image/png") == std::string::npos);
  CHECK(html.find("3 of 7 misclassified") != std::string::npos);
  CHECK(html.find("class=\"group\"") == std::string::npos);
  CHECK(nlohmann::json::parse(slurp(tmp.path / "metrics.json")).count("group_accuracy") == 0);
}

TEST_CASE("write_report handles three classes and no training history", "[report]") {
  TempDir tmp("moodnet_report");
  moodnet::ReportInputs in;
  in.class_names = {"happy", "neutral", "sad"};
  in.predictions.truth = {0, 1, 2, 0, 1, 2};
  in.predictions.predicted = {0, 1, 2, 1, 1, 0};
  in.predictions.scores = {0.9, 0.8, 0.7, 0.6, 0.5, 0.95};  // top-class confidences
  // Scores that are P(class 1) need two classes.
  CHECK_THROWS_WITH(moodnet::write_report(tmp.path, in), Catch::Contains("need two classes"));
  in.scores = moodnet::ReportScores::top_class_confidence;
  moodnet::write_report(tmp.path, in);
  const auto j = nlohmann::json::parse(slurp(tmp.path / "metrics.json"));
  CHECK(j["auc"].is_null());
  CHECK(j["decision"] == "argmax");
  CHECK(j["threshold"].is_null());
  CHECK(j["accuracy"].get<double>() == Approx(4.0 / 6));
  CHECK(j["calibration"]["of"] == "top-class confidence");
  const std::string html = slurp(tmp.path / "index.html");
  CHECK(html.find("No training history") != std::string::npos);
  CHECK(html.find("AUC =") == std::string::npos);
  CHECK(html.find("No ROC curve") != std::string::npos);
  CHECK(slurp(tmp.path / "history.csv") == "epoch\n");
  int x = 0, y = 0, c = 0;
  unsigned char* px = stbi_load((tmp.path / "confusion.png").string().c_str(), &x, &y, &c, 0);
  REQUIRE(px != nullptr);
  stbi_image_free(px);
  CHECK(std::make_pair(x, y) == moodnet::draw::confusion_png_size(3));
}

TEST_CASE("write_report rejects bad inputs with a clear error", "[report]") {
  TempDir tmp("moodnet_report");
  const fs::path file = tmp.path / "taken.txt";
  std::ofstream(file) << "not a directory";
  const auto in = make_inputs();
  REQUIRE_THROWS_AS(moodnet::write_report(file, in), moodnet::Error);
  REQUIRE_THROWS_WITH(moodnet::write_report(file, in),
                      Catch::Contains(file.string()) && Catch::Contains("not a directory"));
  CHECK(slurp(file) == "not a directory");

  auto bad = in;
  bad.predictions.scores.pop_back();
  CHECK_THROWS_WITH(moodnet::write_report(tmp.path / "r1", bad), Catch::Contains("39 scores"));
  bad = in;
  bad.groups.pop_back();
  CHECK_THROWS_WITH(moodnet::write_report(tmp.path / "r2", bad), Catch::Contains("group labels"));
  bad = in;
  bad.extra.emplace_back("arch", "again");
  CHECK_THROWS_WITH(moodnet::write_report(tmp.path / "r3", bad),
                    Catch::Contains("run setting 'arch' given twice"));
  bad = in;
  bad.predictions.predicted[0] = 5;
  CHECK_THROWS_WITH(moodnet::write_report(tmp.path / "r4", bad), Catch::Contains("out of range"));
  bad = in;
  bad.images = [](int64_t) {
    moodnet::ReportImage im;
    im.width = im.height = 4;
    im.channels = 3;
    im.pixels.resize(10);
    return im;
  };
  CHECK_THROWS_WITH(moodnet::write_report(tmp.path / "r5", bad), Catch::Contains("thumbnail"));
  bad = in;
  bad.predictions.scores[0] = std::nan("");
  CHECK_THROWS_WITH(moodnet::write_report(tmp.path / "r6", bad),
                    Catch::Contains("not a probability"));
  bad = in;
  bad.predictions.predicted[0] = 1;  // score 0.49 / 19 < 0.5: not what threshold 0.5 predicts
  CHECK_THROWS_WITH(moodnet::write_report(tmp.path / "r7", bad), Catch::Contains("at threshold"));
  bad = in;
  bad.kept_epoch = 6;
  CHECK_THROWS_WITH(moodnet::write_report(tmp.path / "r8", bad), Catch::Contains("kept epoch 6"));
  // Nothing is created, not even the directory, when the inputs are rejected.
  for (const char* d : {"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"})
    CHECK_FALSE(fs::exists(tmp.path / d));
}

TEST_CASE("write_report reads a two-unit softmax head's scores as top-class confidences",
          "[report]") {
  TempDir tmp("moodnet_report");
  moodnet::ReportInputs in;
  in.class_names = {"happy", "sad"};
  in.scores = moodnet::ReportScores::top_class_confidence;
  in.predictions.truth = {0, 0, 0, 1, 1, 1};
  in.predictions.predicted = {0, 0, 1, 1, 1, 0};
  in.predictions.scores = {0.9, 0.6, 0.7, 0.8, 0.55, 0.65};
  moodnet::write_report(tmp.path, in);
  // P(sad) = s for predicted sad, 1 - s for predicted happy: 0.1, 0.4, 0.7 | 0.8, 0.55, 0.35.
  // Pairs (sad, happy) ranked right: 0.8 beats all 3, 0.55 beats 2, 0.35 beats 1: 6 of 9.
  const auto j = nlohmann::json::parse(slurp(tmp.path / "metrics.json"));
  CHECK(j["auc"].get<double>() == Approx(6.0 / 9));
  CHECK(j["decision"] == "argmax");
  CHECK(j["calibration"]["of"] == "P(sad)");
  const std::string html = slurp(tmp.path / "index.html");
  // Gallery confidences are the predicted class's probability, most confident first.
  const auto first = html.find("</b> (");
  REQUIRE(first != std::string::npos);
  CHECK(std::stod(html.substr(first + 6)) == Approx(70.0));
}
