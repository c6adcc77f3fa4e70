// Training reports: write_report(dir, inputs) writes a self-contained index.html (inline CSS and
// SVG, thumbnails as data URIs: it opens offline), history.csv, metrics.json, curves.png and
// confusion.png. Everything is rendered in memory first; each file is then written under a
// temporary name and renamed, index.html last, so a report is never half written.
// A tool header, kept out of <moodnet/moodnet.hpp>: include <moodnet/train/report.hpp>.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "../data/image_dataset.hpp"
#include "../io/json.hpp"
#include "fit.hpp"
#include "metrics.hpp"
#include "report_draw.hpp"

namespace moodnet {

// An 8-bit (height, width, channels) image of one test sample, channels 1 (grey), 3 or 4.
struct ReportImage {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // empty: no picture for this sample
  std::string label;            // e.g. the file path, shown under the thumbnail
};
// Maps a test-sample index (the position in ClassifierPredictions) to its image.
using ReportImageSource = std::function<ReportImage(int64_t)>;

// What ClassifierPredictions::scores hold (see predict_classes).
enum class ReportScores {
  positive_probability,  // P(class 1) from a one-unit sigmoid head; predicted = score >= threshold
  top_class_confidence,  // the predicted class's probability (softmax heads, argmax)
};

struct ReportInputs {
  std::string title = "moodnet report";
  std::string model_summary;  // Model::summary()
  History history;            // empty for a report without training (evaluate)
  int kept_epoch = 0;         // 1-based epoch whose weights were tested (marked); 0: none/last
  std::vector<std::string> class_names;
  ClassifierPredictions predictions;  // the test set
  ReportScores scores = ReportScores::positive_probability;
  double threshold = 0.5;           // positive_probability: checked against every prediction
  ReportImageSource images;         // optional: thumbnails for the misclassified gallery
  std::vector<std::string> groups;  // optional: one group label per test sample
  std::string group_name = "group";
  // The run's settings (e.g. arch, dataset, train_seconds): a table on the page, in this order,
  // and "run" in metrics.json.
  std::vector<std::pair<std::string, nlohmann::json>> extra;
  int max_gallery = 48;  // most confident mistakes first
};

// The thumbnails of an ImageDataset (the images as the model saw them, after resizing), labelled
// with their paths. The dataset must outlive the report call.
inline ReportImageSource dataset_images(const ImageDataset& ds) {
  return [&ds](int64_t i) {
    const auto px = ds.pixels(i);
    ReportImage im;
    im.height = static_cast<int>(ds.options().height);
    im.width = static_cast<int>(ds.options().width);
    im.channels = static_cast<int>(px.size() / (size_t(im.width) * size_t(im.height)));
    im.pixels.assign(px.begin(), px.end());
    im.label = ds.path(i).string();
    return im;
  };
}

namespace report_detail {
using namespace draw;

// The History column `key` as (epoch, value) points; non-finite values are left out.
inline Points history_points(const History& h, const std::string& key) {
  Points p;
  auto it = h.values.find(key);
  if (it == h.values.end()) return p;
  for (size_t e = 0; e < it->second.size(); ++e)
    if (std::isfinite(it->second[e])) p.emplace_back(double(e + 1), it->second[e]);
  return p;
}
inline int history_rows(const History& h) {
  size_t n = 0;
  for (const auto& [k, v] : h.values) n = std::max(n, v.size());
  return static_cast<int>(n);
}

// The training curves of `key` and "val_" + key.
inline std::vector<Series> curve_series(const History& h, const std::string& key) {
  std::vector<Series> s;
  if (h.values.count(key)) s.push_back({"train", "#1f77b4", history_points(h, key)});
  if (h.values.count("val_" + key))
    s.push_back({"validation", "#ff7f0e", history_points(h, "val_" + key), true});
  return s;
}

// The curves of `key`; kept_epoch (1-based, 0: none) gets a vertical marker.
inline std::string svg_curves(const History& h, const std::string& key, int kept_epoch) {
  const auto ss = curve_series(h, key);
  const int epochs = std::max(1, history_rows(h));
  double lo, hi;
  y_range(ss, lo, hi);
  const auto yt = nice_ticks(lo, hi);
  SvgPlot p(key == "loss" ? "Loss" : "Accuracy", "epoch", key, 520, 320, epoch_ticks(epochs), yt,
            1 - epoch_pad(epochs), epochs + epoch_pad(epochs), lo, hi);
  if (kept_epoch >= 1 && kept_epoch <= epochs && epochs > 1)
    p.s +=
        fmt("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#2ca02c\" "
            "stroke-dasharray=\"2 3\"><title>kept epoch %d</title></line>",
            p.px(kept_epoch), p.px(kept_epoch), p.t, p.h - p.b, kept_epoch);
  if (ss.empty())
    p.s += fmt("<text x=\"%.1f\" y=\"%.1f\" class=\"al\" text-anchor=\"middle\">",
               (p.l + p.w - p.r) / 2.0, (p.t + p.h - p.b) / 2.0) +
           esc("no '" + key + "' in the history") + "</text>";
  for (const auto& se : ss) p.line(se, epochs <= 40);
  p.legend_above(ss);
  return p.finish();
}

struct CalibrationBin {
  int64_t count = 0, positives = 0;
  double mean_predicted = 0, observed = 0;
};

// Ten equal-width bins of the predicted probability: for two classes P(class 1) against the
// observed frequency of class 1, otherwise the top-class confidence against accuracy.
// Scores are checked to lie in [0, 1] before.
inline std::vector<CalibrationBin> calibration(const ClassifierPredictions& p, bool binary) {
  std::vector<CalibrationBin> bins(10);
  for (size_t i = 0; i < p.scores.size(); ++i) {
    const double q = p.scores[i];
    auto& bin = bins[static_cast<size_t>(std::min(9, static_cast<int>(q * 10)))];
    ++bin.count;
    bin.mean_predicted += q;
    bin.positives += binary ? p.truth[i] == 1 : p.truth[i] == p.predicted[i];
  }
  for (auto& bin : bins)
    if (bin.count)
      bin.mean_predicted /= double(bin.count),
          bin.observed = double(bin.positives) / double(bin.count);
  return bins;
}

inline double expected_calibration_error(const std::vector<CalibrationBin>& bins, int64_t n) {
  double e = 0;
  for (const auto& b : bins)
    e += double(b.count) / double(n) * std::abs(b.observed - b.mean_predicted);
  return e;
}

inline std::string svg_reliability(const std::vector<CalibrationBin>& bins, bool binary,
                                   const std::string& positive, double ece) {
  double lo = 0, hi = 1;
  const auto t = nice_ticks(lo, hi);
  SvgPlot p(fmt("Reliability (ECE %.3f)", ece),
            binary ? "mean predicted P(" + positive + ")" : "mean confidence",
            binary ? "fraction " + positive : "accuracy", 440, 416, t, t, 0, 1, 0, 1, 48);
  Points pts;
  for (size_t k = 0; k < bins.size(); ++k) {
    if (!bins[k].count) continue;
    const double x0 = double(k) / 10, y = bins[k].observed;
    p.s += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"rbar\"/>",
               p.px(x0) + 1, p.py(y), p.px(0.1) - p.px(0) - 2, p.py(0) - p.py(y)) +
           fmt("<text x=\"%.1f\" y=\"%d\" class=\"cnt\" text-anchor=\"middle\">%lld</text>",
               p.px(x0 + 0.05), p.t - 10, static_cast<long long>(bins[k].count));
    pts.emplace_back(bins[k].mean_predicted, y);
  }
  p.s +=
      fmt("<text x=\"%d\" y=\"%d\" class=\"cnt\" text-anchor=\"end\">n</text>", p.l - 6, p.t - 10);
  p.line({"", "#999", {{0, 0}, {1, 1}}, true}, false);
  p.line({"", "#d62728", pts}, true);
  p.legend_above({{"ideal", "#999", {}, true}, {"observed", "#d62728", {}}});
  return p.finish();
}

// ROC points (FPR, TPR) of two-class scores, one per distinct threshold.
inline Points roc_points(const ClassifierPredictions& p) {
  std::vector<size_t> order(p.scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return p.scores[a] > p.scores[b]; });
  int64_t pos = 0, neg = 0, tp = 0, fp = 0;
  for (int t : p.truth) (t == 1 ? pos : neg) += 1;
  Points pts{{0, 0}};
  if (!pos || !neg) return {};
  for (size_t i = 0; i < order.size(); ++i) {
    (p.truth[order[i]] == 1 ? tp : fp) += 1;
    if (i + 1 == order.size() || p.scores[order[i + 1]] != p.scores[order[i]])
      pts.emplace_back(double(fp) / double(neg), double(tp) / double(pos));
  }
  return pts;
}

inline std::string svg_roc(const ClassifierPredictions& p, double auc, double threshold) {
  double lo = 0, hi = 1;
  const auto t = nice_ticks(lo, hi);
  SvgPlot plot(fmt("ROC curve (AUC = %.4f)", auc), "false positive rate", "true positive rate", 420,
               400, t, t, 0, 1, 0, 1);
  int64_t pos = 0, neg = 0, tp = 0, fp = 0;
  for (size_t i = 0; i < p.truth.size(); ++i) {
    (p.truth[i] == 1 ? pos : neg) += 1;
    if (p.scores[i] >= threshold) (p.truth[i] == 1 ? tp : fp) += 1;
  }
  Series diag{"chance", "#999", {{0, 0}, {1, 1}}, true};
  Series roc{fmt("ROC, AUC = %.4f", auc), "#1f77b4", roc_points(p)};
  plot.line(diag, false);
  plot.line(roc, false);
  const double x = double(fp) / double(neg), y = double(tp) / double(pos);
  plot.s +=
      fmt("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#d62728\"/>", plot.px(x), plot.py(y));
  plot.legend({roc, diag, {fmt("threshold %.2f", threshold), "#d62728", {}, false, true}}, true,
              true);
  return plot.finish();
}

// A PNG data URI of an image, shrunk (box filter) to at most 160 pixels on its longer side.
inline std::string thumbnail_uri(const ReportImage& im) {
  MOODNET_CHECK(im.width > 0 && im.height > 0 && im.channels >= 1 && im.channels <= 4 &&
                    im.pixels.size() == size_t(im.width) * size_t(im.height) * size_t(im.channels),
                "write_report: thumbnail of ", im.width, "x", im.height, "x", im.channels, " with ",
                im.pixels.size(), " bytes is inconsistent");
  const int f = (std::max(im.width, im.height) + 159) / 160, w = (im.width + f - 1) / f,
            h = (im.height + f - 1) / f, ch = im.channels;
  std::vector<uint8_t> out(size_t(w) * size_t(h) * size_t(ch));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < ch; ++c) {
        int sum = 0, n = 0;
        for (int yy = y * f; yy < std::min(im.height, (y + 1) * f); ++yy)
          for (int xx = x * f; xx < std::min(im.width, (x + 1) * f); ++xx, ++n)
            sum += im.pixels[(size_t(yy) * size_t(im.width) + size_t(xx)) * size_t(ch) + size_t(c)];
        out[(size_t(y) * size_t(w) + size_t(x)) * size_t(ch) + size_t(c)] =
            static_cast<uint8_t>((sum + n / 2) / n);
      }
  return "data:image/png;base64," + base64(draw::Canvas::encode_png(out.data(), w, h, ch));
}

inline std::string tmp_suffix() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  return fmt(".tmp-%08x%04x", rd(), static_cast<unsigned>(++counter & 0xffff));
}

// Writes all files under temporary names first, then renames them in order; on any failure the
// temporary files are removed and an Error names the file.
inline void write_files_atomically(const std::filesystem::path& dir,
                                   const std::vector<std::pair<std::string, std::string>>& files) {
  namespace fs = std::filesystem;
  std::vector<fs::path> tmps;
  auto cleanup = [&] {
    std::error_code ec;
    for (const auto& t : tmps) fs::remove(t, ec);
  };
  for (const auto& [name, data] : files) {
    tmps.push_back(dir / ("." + name + tmp_suffix()));
    std::ofstream out(tmps.back(), std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) {
      cleanup();
      MOODNET_FAIL("write_report: cannot write '", (dir / name).string(), "'");
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    std::error_code ec;
    fs::rename(tmps[i], dir / files[i].first, ec);
    if (ec) {
      cleanup();
      MOODNET_FAIL("write_report: cannot rename into '", (dir / files[i].first).string(),
                   "': ", ec.message());
    }
  }
}

inline const char* css() {
  return R"(body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0;background:#f6f7f9;color:#222}main{max-width:1120px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:26px;margin:16px 0 4px}h2{font-size:19px;margin:0 0 10px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:16px 20px;margin:16px 0}
.kpis{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}.kpi{background:#fff;border:1px solid #e1e4e8;
border-radius:8px;padding:8px 14px}.kpi b{display:block;font-size:22px}.kpi span{color:#666;font-size:13px}
.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}table{border-collapse:collapse;font-size:14px}
td,th{padding:4px 10px;text-align:right}th{font-weight:600}td:first-child,th:first-child{text-align:left}
table.lines td,table.lines th{border-bottom:1px solid #eee}table.cm td.c{width:78px;height:58px;
text-align:center;border:1px solid #ccc;font-size:18px}table.cm td.c small{display:block;font-size:11px;
opacity:.8}.chart text{font-size:12px;fill:#333}.chart .ct{font-size:14px;font-weight:600}.chart .al{fill:#555}
.chart .grid{stroke:#eee}.chart .axis{stroke:#333}.chart .frame{fill:none;stroke:#999}.chart .rbar{fill:#aec7e8}
.chart .cnt{font-size:10px;fill:#555}.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(176px,1fr));
gap:12px}figure{margin:0;background:#fafafa;border:1px solid #e1e4e8;border-radius:6px;padding:8px;font-size:12px}
figure img{width:128px;height:128px;object-fit:contain;display:block;margin:0 auto 6px;
background:#eee}figure img.px{image-rendering:pixelated}figcaption{line-height:1.45}
figcaption .file{display:block;color:#666;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
table.run td{text-align:left}pre.model{margin:0;flex:1 1 480px}.muted{color:#666;font-size:13px}pre{font-size:12px;
overflow-x:auto;background:#f6f8fa;padding:10px;border-radius:6px}.gbar{display:inline-block;height:10px;
background:#1f77b4;vertical-align:middle;border-radius:2px})";
}

inline std::string json_text(const nlohmann::json& v) {
  return v.is_string()         ? v.get<std::string>()
         : v.is_number_float() ? fmt("%.6g", v.get<double>())
                               : v.dump();
}

}  // namespace report_detail

inline void write_report(const std::filesystem::path& dir, const ReportInputs& in) {
  namespace fs = std::filesystem;
  using namespace report_detail;
  const size_t n = in.predictions.truth.size(), k = in.class_names.size();
  // Every check before anything is created: bad inputs leave the disk untouched.
  {
    std::error_code ec;
    const auto st = fs::status(dir, ec);
    MOODNET_CHECK(!fs::exists(st) || fs::is_directory(st), "write_report: '", dir.string(),
                  "' exists and is not a directory");
  }
  MOODNET_CHECK(k >= 2, "write_report: need at least 2 class names, got ", k);
  MOODNET_CHECK(std::set<std::string>(in.class_names.begin(), in.class_names.end()).size() == k,
                "write_report: class names must be distinct");
  MOODNET_CHECK(n > 0, "write_report: no test predictions");
  MOODNET_CHECK(in.predictions.predicted.size() == n && in.predictions.scores.size() == n,
                "write_report: ", n, " true labels but ", in.predictions.predicted.size(),
                " predictions and ", in.predictions.scores.size(), " scores");
  MOODNET_CHECK(in.groups.empty() || in.groups.size() == n, "write_report: ", in.groups.size(),
                " group labels for ", n, " test samples");
  for (size_t a = 0; a < in.extra.size(); ++a)
    for (size_t b = 0; b < a; ++b)
      MOODNET_CHECK(in.extra[a].first != in.extra[b].first, "write_report: run setting '",
                    in.extra[a].first, "' given twice");
  MOODNET_CHECK(in.kept_epoch >= 0 && in.kept_epoch <= history_rows(in.history),
                "write_report: kept epoch ", in.kept_epoch, " is not one of the ",
                history_rows(in.history), " epochs of the history");
  const bool thresholded = in.scores == ReportScores::positive_probability;
  MOODNET_CHECK(!thresholded || k == 2,
                "write_report: scores that are P(class 1) need two "
                "classes, got ",
                k, " class names");
  MOODNET_CHECK(!thresholded || (in.threshold > 0 && in.threshold < 1),
                "write_report: the threshold ", in.threshold, " is not in (0, 1)");
  for (size_t i = 0; i < n; ++i) {
    const int t = in.predictions.truth[i], y = in.predictions.predicted[i];
    MOODNET_CHECK(t >= 0 && size_t(t) < k && y >= 0 && size_t(y) < k, "write_report: test sample ",
                  i, " has true class ", t, " and predicted class ", y, ", out of range [0, ", k,
                  ")");
    const double s = in.predictions.scores[i];
    MOODNET_CHECK(std::isfinite(s) && s >= 0 && s <= 1, "write_report: the score ", s,
                  " of test sample ", i, " is not a probability (did training diverge?)");
    MOODNET_CHECK(!thresholded || in.predictions.predicted[i] == (s >= in.threshold ? 1 : 0),
                  "write_report: test sample ", i, " has P(", in.class_names.back(), ") = ", s,
                  " but was predicted class ", in.predictions.predicted[i], " at threshold ",
                  in.threshold);
  }

  // Numbers. Two classes are analysed through P(class 1): a two-unit softmax's top-class
  // probability s gives P(class 1) = s or 1 - s.
  const bool binary = k == 2;
  ClassifierPredictions p = in.predictions;
  if (binary && !thresholded)
    for (size_t i = 0; i < n; ++i)
      if (p.predicted[i] == 0) p.scores[i] = 1 - p.scores[i];
  const ClassificationReport rep = classification_report(p.truth, p.predicted, in.class_names);
  const bool has_roc = binary && !roc_points(p).empty();
  std::optional<double> auc;
  if (has_roc) auc = roc_auc(p.scores, p.truth);
  const auto bins = calibration(p, binary);
  const double ece = expected_calibration_error(bins, rep.n);
  double mp = 0, mr = 0, mf = 0, wp = 0, wr = 0, wf = 0;
  for (size_t c = 0; c < k; ++c) {
    const double s = double(rep.support[c]) / double(rep.n);
    mp += rep.precision[c] / double(k), mr += rep.recall[c] / double(k),
        mf += rep.f1[c] / double(k);
    wp += rep.precision[c] * s, wr += rep.recall[c] * s, wf += rep.f1[c] * s;
  }
  std::map<std::string, std::pair<int64_t, int64_t>> group_acc;  // name -> (n, correct)
  for (size_t i = 0; i < in.groups.size(); ++i) {
    auto& g = group_acc[in.groups[i]];
    ++g.first;
    g.second += p.truth[i] == p.predicted[i];
  }
  auto confidence = [&](size_t i) {
    return binary ? (p.predicted[i] == 1 ? p.scores[i] : 1 - p.scores[i]) : p.scores[i];
  };
  std::vector<size_t> wrong;
  for (size_t i = 0; i < n; ++i)
    if (p.truth[i] != p.predicted[i]) wrong.push_back(i);
  std::stable_sort(wrong.begin(), wrong.end(),
                   [&](size_t a, size_t b) { return confidence(a) > confidence(b); });

  // metrics.json
  nlohmann::json j = rep.to_json();
  j["class_names"] = in.class_names;
  j["auc"] = auc ? nlohmann::json(*auc) : nlohmann::json();
  j["decision"] = thresholded ? "threshold" : "argmax";
  j["threshold"] = thresholded ? nlohmann::json(in.threshold) : nlohmann::json();
  j["macro_avg"] = {{"precision", mp}, {"recall", mr}, {"f1", mf}, {"support", rep.n}};
  j["weighted_avg"] = {{"precision", wp}, {"recall", wr}, {"f1", wf}, {"support", rep.n}};
  j["misclassified"] = wrong.size();
  j["calibration"]["ece"] = ece;
  for (size_t b = 0; b < bins.size(); ++b)
    j["calibration"]["bins"].push_back(
        {{"lo", double(b) / 10},
         {"hi", double(b + 1) / 10},
         {"count", bins[b].count},
         {"mean_predicted", bins[b].count ? nlohmann::json(bins[b].mean_predicted) : nullptr},
         {"observed", bins[b].count ? nlohmann::json(bins[b].observed) : nullptr}});
  j["calibration"]["of"] = binary ? "P(" + in.class_names[1] + ")" : "top-class confidence";
  if (in.kept_epoch > 0) j["kept_epoch"] = in.kept_epoch;
  for (const auto& [g, v] : group_acc)
    j["group_accuracy"][g] = {
        {"n", v.first}, {"correct", v.second}, {"accuracy", double(v.second) / double(v.first)}};
  j["run"] = nlohmann::json::object();
  for (const auto& [key, v] : in.extra) j["run"][key] = v;

  // history.csv
  const int rows = history_rows(in.history);
  std::string csv = "epoch";
  for (const auto& key : in.history.keys) (csv += ',') += key;
  csv += "\n";
  for (int e = 0; e < rows; ++e) {
    csv += std::to_string(e + 1);
    for (const auto& key : in.history.keys) {
      const auto& v = in.history.values.at(key);
      csv += ',';  // an epoch without this key stays empty
      if (size_t(e) < v.size()) csv += fmt("%.10g", v[size_t(e)]);
    }
    csv += "\n";
  }

  // index.html
  const std::string pos_name = in.class_names[1];
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>" +
      esc(in.title) + "</title><style>" + css() + "</style></head><body><main>\n";
  h += "<h1>" + esc(in.title) + "</h1>\n<div class=\"kpis\">";
  auto kpi = [&](const std::string& v, const std::string& label) {
    h += "<div class=\"kpi\"><b>" + esc(v) + "</b><span>" + esc(label) + "</span></div>";
  };
  kpi(fmt("%.4f", rep.accuracy), "test accuracy");
  if (auc) kpi(fmt("%.4f", *auc), "ROC AUC");
  kpi(fmt("%.4f", mf), "macro F1");
  kpi(std::to_string(rep.n), "test images");
  kpi(std::to_string(wrong.size()), "misclassified");
  kpi(thresholded ? fmt("%.2f", in.threshold) : "argmax", "decision threshold");
  h += "</div>\n";
  // The run's settings and the model side by side.
  if (!in.extra.empty() || !in.model_summary.empty()) {
    h += std::string("<section><h2>") +
         (in.extra.empty()           ? "Model"
          : in.model_summary.empty() ? "Run"
                                     : "Run and model") +
         "</h2><div class=\"row\">";
    if (!in.extra.empty()) {
      h += "<table class=\"lines run\">";
      for (const auto& [key, v] : in.extra)
        h += "<tr><th>" + esc(key) + "</th><td>" + esc(json_text(v)) + "</td></tr>";
      h += "</table>";
    }
    if (!in.model_summary.empty()) h += "<pre class=\"model\">" + esc(in.model_summary) + "</pre>";
    h += "</div></section>\n";
  }

  h += "<section><h2>Training curves</h2>";
  if (rows == 0) {
    h += "<p class=\"muted\">No training history: this report evaluates a saved model, so "
         "there are no loss or accuracy curves (curves.png says so, history.csv has no rows)."
         "</p>";
  } else {
    h += "<div class=\"row\">" + svg_curves(in.history, "loss", in.kept_epoch) +
         svg_curves(in.history, "accuracy", in.kept_epoch) + "</div>";
    if (in.kept_epoch > 0 && rows > 1)  // the marker svg_curves draws
      h +=
          fmt("<p class=\"muted\">The test results below use the weights of epoch %d (dotted "
              "green line) of %d.</p>",
              in.kept_epoch, rows);
    h += "<details><summary>History (" + std::to_string(rows) + (rows == 1 ? " epoch" : " epochs") +
         ")</summary><table class=\"lines\"><tr><th>epoch</th>";
    for (const auto& key : in.history.keys) h += "<th>" + esc(key) + "</th>";
    h += "</tr>";
    for (int e = 0; e < rows; ++e) {
      h += "<tr><td>" + std::to_string(e + 1) + "</td>";
      for (const auto& key : in.history.keys) {
        const auto& v = in.history.values.at(key);
        h += "<td>";
        if (size_t(e) < v.size()) h += fmt("%.4g", v[size_t(e)]);
        h += "</td>";
      }
      h += "</tr>";
    }
    h += "</table></details>";
  }
  h += "</section>\n";

  h += "<section><h2>Test set</h2><div class=\"row\"><div><table class=\"cm\"><tr><th></th>"
       "<th colspan=\"" +
       std::to_string(k) +
       "\" style=\"text-align:center\">predicted</th></tr>"
       "<tr><th>true</th>";
  for (const auto& c : in.class_names) h += "<th style=\"text-align:center\">" + esc(c) + "</th>";
  h += "</tr>";
  for (size_t t = 0; t < k; ++t) {
    h += "<tr><th>" + esc(in.class_names[t]) + "</th>";
    for (size_t c = 0; c < k; ++c) {
      const double f = rep.support[t] ? double(rep.confusion[t][c]) / double(rep.support[t]) : 0;
      h +=
          fmt("<td class=\"c\" style=\"background:rgba(31,119,180,%.3f);color:%s\">%lld"
              "<small>%.1f %%</small></td>",
              0.08 + 0.85 * f, f > 0.55 ? "#fff" : "#222",
              static_cast<long long>(rep.confusion[t][c]), 100 * f);
    }
    h += "</tr>";
  }
  h += "</table><p class=\"muted\">Rows: true class; columns: predicted; shade: fraction of the "
       "row.</p></div><div><table class=\"lines report\"><tr><th></th><th>precision</th>"
       "<th>recall</th><th>f1-score</th><th>support</th></tr>";
  for (size_t c = 0; c < k; ++c)
    h += "<tr><td>" + esc(in.class_names[c]) + "</td>" +
         fmt("<td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%lld</td></tr>", rep.precision[c],
             rep.recall[c], rep.f1[c], static_cast<long long>(rep.support[c]));
  h += fmt("<tr><td>&nbsp;</td><td></td><td></td><td></td><td></td></tr><tr><td>accuracy</td>"
           "<td></td><td></td><td>%.3f</td><td>%lld</td></tr>",
           rep.accuracy, static_cast<long long>(rep.n)) +
       fmt("<tr><td>macro avg</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%lld</td></tr>", mp,
           mr, mf, static_cast<long long>(rep.n)) +
       fmt("<tr><td>weighted avg</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%lld</td></tr>", wp,
           wr, wf, static_cast<long long>(rep.n)) +
       "</table><p class=\"muted\">";
  h += thresholded ? fmt("Decision threshold %.2f: predicted ", in.threshold) + esc(pos_name) +
                         " when P(" + esc(pos_name) + ") &ge; " + fmt("%.2f", in.threshold) + "."
                   : std::string("Predicted class: the most probable one (argmax).");
  h += "</p></div></div>\n<div class=\"row\">";
  if (has_roc)
    h += svg_roc(p, *auc, thresholded ? in.threshold : 0.5);
  else
    h += std::string("<p class=\"muted\" style=\"max-width:420px\">No ROC curve: ") +
         (binary ? "the test set holds only one class." : "ROC curves need two classes.") + "</p>";
  h += "<div style=\"max-width:460px\">" + svg_reliability(bins, binary, pos_name, ece) +
       "<table class=\"lines\"><tr><th>bin</th><th>count</th><th>mean predicted</th><th>observed"
       "</th></tr>";
  for (size_t b = 0; b < bins.size(); ++b)
    h += fmt("<tr><td>%.1f&ndash;%.1f</td><td>%lld</td>", double(b) / 10, double(b + 1) / 10,
             static_cast<long long>(bins[b].count)) +
         (bins[b].count
              ? fmt("<td>%.3f</td><td>%.3f</td></tr>", bins[b].mean_predicted, bins[b].observed)
              : "<td></td><td></td></tr>");
  h += "</table><p class=\"muted\">Bars: observed frequency per bin of predicted probability, "
       "with the bin's sample count above the plot; ECE: the count-weighted mean gap to the "
       "diagonal.</p></div></div></section>\n";

  if (!group_acc.empty()) {
    h += "<section><h2>Accuracy per " + esc(in.group_name) +
         "</h2><table class=\"lines\"><tr>"
         "<th>" +
         esc(in.group_name) + "</th><th>n</th><th>correct</th><th>accuracy</th><th></th></tr>";
    for (const auto& [g, v] : group_acc) {
      const double a = double(v.second) / double(v.first);
      h += "<tr class=\"group\"><td>" + esc(g) + "</td>" +
           fmt("<td>%lld</td><td>%lld</td><td>%.3f</td><td style=\"text-align:left\"><span "
               "class=\"gbar\" "
               "style=\"width:%.0fpx\"></span></td></tr>",
               static_cast<long long>(v.first), static_cast<long long>(v.second), a, 160 * a);
    }
    h += "</table></section>\n";
  }

  const size_t shown = std::min(wrong.size(), static_cast<size_t>(std::max(0, in.max_gallery)));
  h += "<section><h2>Misclassified images</h2><p class=\"muted\">" +
       fmt("%zu of %zu misclassified test images, most confident mistakes first.", shown,
           wrong.size()) +
       "</p><div class=\"gallery\">";
  for (size_t m = 0; m < shown; ++m) {
    const size_t i = wrong[m];
    h += "<figure class=\"miss\">";
    std::string label = fmt("test sample %zu", i);
    if (in.images) {
      const ReportImage im = in.images(static_cast<int64_t>(i));
      if (!im.label.empty()) label = im.label;
      if (!im.pixels.empty())
        h += "<img alt=\"" + esc(label) + "\"" +
             (std::max(im.width, im.height) <= 64 ? " class=\"px\"" : "") + " src=\"" +
             thumbnail_uri(im) + "\">";
    }
    const std::string file = fs::path(label).filename().string();
    h += "<figcaption title=\"" + esc(label) + "\">true: <b>" +
         esc(in.class_names[size_t(p.truth[i])]) + "</b><br>predicted: <b>" +
         esc(in.class_names[size_t(p.predicted[i])]) + "</b> " +
         fmt("(%.1f&nbsp;%%)", 100 * confidence(i)) + "<span class=\"file\">" +
         esc(file.empty() ? label : file) + "</span></figcaption></figure>";
  }
  h += "</div></section>\n";
  h += "<section><h2>Classification report (text)</h2><pre>" + esc(rep.to_string()) +
       "</pre></section>\n</main></body></html>\n";

  const auto curves =
                 curves_png(curve_series(in.history, "loss"), curve_series(in.history, "accuracy"),
                            history_rows(in.history), in.kept_epoch),
             cm = confusion_png(in.class_names, rep.confusion);
  {
    std::error_code ec;
    fs::create_directories(dir, ec);
    MOODNET_CHECK(!ec && fs::is_directory(dir), "write_report: cannot create the directory '",
                  dir.string(), "': ", ec.message());
  }
  write_files_atomically(dir, {{"history.csv", csv},
                               {"metrics.json", j.dump(2) + "\n"},
                               {"curves.png", std::string(curves.begin(), curves.end())},
                               {"confusion.png", std::string(cm.begin(), cm.end())},
                               {"index.html", h}});
}

}  // namespace moodnet
