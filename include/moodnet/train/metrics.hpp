// Classification metrics: confusion matrix, per-class precision/recall/F1 (scikit-learn's
// definitions), ROC AUC for binary scores.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "../config.hpp"
#include "../core/value.hpp"

namespace moodnet {

struct ClassificationReport {
  std::vector<std::string> class_names;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  std::vector<double> precision, recall, f1;
  std::vector<int64_t> support;
  double accuracy = 0;
  int64_t n = 0;

  // {"accuracy", "n_test", "confusion", and per class name "precision", "recall", "f1", "support"}.
  Value to_json() const {
    Value j = Value::object();
    j["accuracy"] = accuracy;
    j["n_test"] = n;
    j["confusion"] = confusion;
    for (size_t k = 0; k < class_names.size(); ++k) {
      j["precision"][class_names[k]] = precision[k];
      j["recall"][class_names[k]] = recall[k];
      j["f1"][class_names[k]] = f1[k];
      j["support"][class_names[k]] = support[k];
    }
    return j;
  }

  // scikit-learn's classification_report layout plus the confusion matrix.
  std::string to_string() const {
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line, "%14s %9s %9s %9s %9s\n", "", "precision", "recall",
                  "f1-score", "support");
    out += line;
    for (size_t k = 0; k < class_names.size(); ++k) {
      std::snprintf(line, sizeof line, "%14s %9.2f %9.2f %9.2f %9lld\n", class_names[k].c_str(),
                    precision[k], recall[k], f1[k], static_cast<long long>(support[k]));
      out += line;
    }
    std::snprintf(line, sizeof line, "\n%14s %9s %9s %9.2f %9lld\n", "accuracy", "", "", accuracy,
                  static_cast<long long>(n));
    out += line;
    auto mean = [](const std::vector<double>& v) {
      return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    };
    std::snprintf(line, sizeof line, "%14s %9.2f %9.2f %9.2f %9lld\n", "macro avg", mean(precision),
                  mean(recall), mean(f1), static_cast<long long>(n));
    out += line;
    double wp = 0, wr = 0, wf = 0;
    for (size_t k = 0; k < class_names.size(); ++k) {
      wp += precision[k] * double(support[k]);
      wr += recall[k] * double(support[k]);
      wf += f1[k] * double(support[k]);
    }
    std::snprintf(line, sizeof line, "%14s %9.2f %9.2f %9.2f %9lld\n", "weighted avg",
                  wp / double(n), wr / double(n), wf / double(n), static_cast<long long>(n));
    out += line;
    out += "\nconfusion matrix (rows: true, columns: predicted)\n";
    std::snprintf(line, sizeof line, "%14s", "");
    out += line;
    for (const auto& c : class_names) {
      std::snprintf(line, sizeof line, " %9s", c.c_str());
      out += line;
    }
    out += "\n";
    for (size_t t = 0; t < class_names.size(); ++t) {
      std::snprintf(line, sizeof line, "%14s", class_names[t].c_str());
      out += line;
      for (size_t p = 0; p < class_names.size(); ++p) {
        std::snprintf(line, sizeof line, " %9lld", static_cast<long long>(confusion[t][p]));
        out += line;
      }
      out += "\n";
    }
    return out;
  }
};

inline ClassificationReport classification_report(const std::vector<int>& truth,
                                                  const std::vector<int>& predicted,
                                                  const std::vector<std::string>& class_names) {
  MOODNET_CHECK(truth.size() == predicted.size(), "classification_report: ", truth.size(),
                " labels but ", predicted.size(), " predictions");
  const size_t k = class_names.size();
  ClassificationReport r;
  r.class_names = class_names;
  r.confusion.assign(k, std::vector<int64_t>(k, 0));
  for (size_t i = 0; i < truth.size(); ++i) {
    MOODNET_CHECK(
        truth[i] >= 0 && size_t(truth[i]) < k && predicted[i] >= 0 && size_t(predicted[i]) < k,
        "classification_report: label out of range at sample ", i);
    ++r.confusion[size_t(truth[i])][size_t(predicted[i])];
  }
  r.n = static_cast<int64_t>(truth.size());
  int64_t correct = 0;
  for (size_t c = 0; c < k; ++c) {
    int64_t tp = r.confusion[c][c], pred = 0, sup = 0;
    for (size_t o = 0; o < k; ++o) {
      pred += r.confusion[o][c];
      sup += r.confusion[c][o];
    }
    correct += tp;
    const double p = pred ? double(tp) / double(pred) : 0.0,
                 rc = sup ? double(tp) / double(sup) : 0.0;
    r.precision.push_back(p);
    r.recall.push_back(rc);
    r.f1.push_back(p + rc > 0 ? 2 * p * rc / (p + rc) : 0.0);
    r.support.push_back(sup);
  }
  r.accuracy = r.n ? double(correct) / double(r.n) : 0.0;
  return r;
}

// Area under the ROC curve of scores for the positive class (label 1); ties count one half
// (the Mann-Whitney statistic).
inline double roc_auc(const std::vector<double>& scores, const std::vector<int>& truth) {
  MOODNET_CHECK(scores.size() == truth.size(), "roc_auc: sizes differ");
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0;
  int64_t pos = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double avg_rank = 0.5 * double(i + 1 + j);  // ranks i+1 .. j
    for (size_t t = i; t < j; ++t)
      if (truth[order[t]] == 1) {
        rank_sum += avg_rank;
        ++pos;
      }
    i = j;
  }
  const int64_t neg = static_cast<int64_t>(scores.size()) - pos;
  if (pos == 0 || neg == 0) return 0.5;
  return (rank_sum - double(pos) * double(pos + 1) / 2) / (double(pos) * double(neg));
}

}  // namespace moodnet
