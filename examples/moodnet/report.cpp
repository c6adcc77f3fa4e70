// `--report DIR` of `moodnet train` and `moodnet evaluate`: the report (train/report.hpp, with
// stb_image_write) in its own translation unit, so train.cpp and use.cpp keep their compile
// times. The group keys come from the caller (train.cpp already compiles <regex>).
#include <iostream>
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
  in.groups = r.groups;
  for (auto& g : in.groups)  // files the pattern does not match (group_keys: "\x01" + path)
    if (!g.empty() && g[0] == '\x01') g = "(no match)";
  in.group_name = "group";  // the pattern is in the run table
  in.extra = r.run;
  write_report(dir, in);
  std::cout << "report: " << (dir / "index.html").string() << " (with history.csv, metrics.json, "
            << "curves.png, confusion.png)\n";
}

}  // namespace moodnet::cli
