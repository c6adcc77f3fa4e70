// `--report DIR` of `moodnet train` and `moodnet evaluate`: the report (train/report.hpp, with
// stb_image_write) and the group keys (<regex>) in their own translation unit, so train.cpp and
// use.cpp keep their compile times.
#include <iostream>
#include <moodnet/data/groups.hpp>
#include <moodnet/train/report.hpp>

#include "common.hpp"

namespace moodnet::cli {

void write_cli_report(const fs::path& dir, const CliReport& r) {
  MOODNET_CHECK(r.model && r.test && r.evaluation, "write_cli_report: missing inputs");
  ReportInputs in;
  in.title = r.title;
  in.model_summary = r.model->summary();
  if (r.history) in.history = *r.history;
  in.kept_epoch = r.kept_epoch;
  in.class_names = r.evaluation->report.class_names;
  in.predictions = r.evaluation->predictions;
  // predict_classes: a one-unit head gives P(class 1) and predicts class 1 at >= 0.5.
  in.scores = r.model->output_shape()[0] == 1 ? ReportScores::positive_probability
                                              : ReportScores::top_class_confidence;
  in.threshold = 0.5;
  in.images = dataset_images(*r.test);
  if (!r.group_by.empty()) {
    std::vector<fs::path> paths;
    for (int64_t i = 0; i < r.test->size(); ++i) paths.push_back(r.test->path(i));
    in.groups = group_keys(paths, r.group_by);
    for (auto& g : in.groups)  // files the pattern does not match (keyed "\x01" + path)
      if (!g.empty() && g[0] == '\x01') g = "(no match)";
    in.group_name = "group";  // the pattern is in the run table
  }
  in.extra = r.run;
  write_report(dir, in);
  std::cout << "report: " << (dir / "index.html").string() << " (with history.csv, metrics.json, "
            << "curves.png, confusion.png)\n";
}

}  // namespace moodnet::cli
