// moodnet's convolution kernels against oneDNN's (Debian's libdnnl 2.6) on the same shapes and
// passes, in one process, alternating run by run so machine noise hits both alike. oneDNN picks
// its own memory formats (format_tag::any); reorders happen outside the timed loop. Every pair of
// outputs is compared once, so the comparison is of equal work.
//
//   compare_onednn [--json] [--json-out FILE] [--reps N] [--shapes a,b,...]
// threads: OMP_NUM_THREADS. --json prints the JSON array instead of the table; --json-out
// writes it to FILE besides printing the table.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <moodnet/config.hpp>
#include <moodnet/kernels/cpu/ops.hpp>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "conv_shapes.hpp"

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using moodnet::ConvGeometry;
using moodnet::bench::Buffer;
using moodnet::bench::ConvShape;
using Ops = moodnet::ops<moodnet::Cpu>;

struct Row {
  std::string shape, pass;
  int threads = 1;
  double moodnet_gflops = 0, onednn_gflops = 0, max_rel_err = 0;
};

template <class F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// max |a - b| / max |b|
double rel_err(const Buffer& a, const Buffer& b) {
  double diff = 0, scale = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return diff / scale;
}

class OneDnnConv {
 public:
  OneDnnConv(const ConvShape& s, const ConvGeometry& g, dnnl::engine& eng, dnnl::stream& st)
      : eng_(eng), st_(st) {
    const auto dt = memory::data_type::f32;
    const memory::dims src{g.n, g.c, g.h, g.w}, dst{g.n, g.f, g.oh, g.ow}, bias{g.f};
    const memory::dims wei =
        s.depthwise ? memory::dims{g.c, 1, 1, g.kh, g.kw} : memory::dims{g.f, g.c, g.kh, g.kw};
    const memory::dims strides{g.sh, g.sw}, pad_l{g.pad_top, g.pad_left},
        pad_r{(g.oh - 1) * g.sh + g.kh - g.h - g.pad_top,
              (g.ow - 1) * g.sw + g.kw - g.w - g.pad_left};
    const memory::desc src_any(src, dt, Tag::any), dst_any(dst, dt, Tag::any),
        wei_any(wei, dt, Tag::any), bias_md(bias, dt, Tag::x);
    user_src_ = memory::desc(src, dt, Tag::nhwc);
    user_dst_ = memory::desc(dst, dt, Tag::nhwc);
    user_wei_ = memory::desc(wei, dt, s.depthwise ? Tag::hwigo : Tag::hwio);
    const auto alg = dnnl::algorithm::convolution_direct;
    fwd_pd_ = dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, src_any, wei_any,
                                        bias_md, dst_any, strides, pad_l, pad_r),
        eng);
    bwd_data_pd_ = dnnl::convolution_backward_data::primitive_desc(
        dnnl::convolution_backward_data::desc(alg, src_any, wei_any, dst_any, strides, pad_l,
                                              pad_r),
        eng, fwd_pd_);
    bwd_w_pd_ = dnnl::convolution_backward_weights::primitive_desc(
        dnnl::convolution_backward_weights::desc(alg, src_any, wei_any, bias_md, dst_any, strides,
                                                 pad_l, pad_r),
        eng, fwd_pd_);
    bias_ = memory(bias_md, eng);
    dbias_ = memory(bias_md, eng);
  }

  // The oneDNN-format copy of user data (reordered once, outside any timing).
  memory to_primitive(const memory::desc& user, const memory::desc& want, Buffer& d) {
    memory u(user, eng_, d.data());
    memory m(want, eng_);
    dnnl::reorder(u, m).execute(st_, u, m);
    st_.wait();
    return m;
  }
  Buffer from_primitive(const memory& m, const memory::desc& user, size_t n) {
    Buffer out(n);
    memory u(user, eng_, out.data());
    dnnl::reorder(m, u).execute(st_, const_cast<memory&>(m), u);
    st_.wait();
    return out;
  }

  dnnl::engine& eng_;
  dnnl::stream& st_;
  memory::desc user_src_, user_dst_, user_wei_;
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd_;
  memory bias_, dbias_;
};

std::vector<Row> compare_shape(const ConvShape& s, int reps, dnnl::engine& eng, dnnl::stream& st) {
  const ConvGeometry g = s.geometry();
  const int64_t wsize = g.kh * g.kw * g.c * (s.depthwise ? 1 : g.f);
  auto x = moodnet::bench::bench_data(g.n * g.h * g.w * g.c, 1);
  auto w = moodnet::bench::bench_data(wsize, 2);
  auto b = moodnet::bench::bench_data(g.f, 3);
  auto dy = moodnet::bench::bench_data(g.n * g.oh * g.ow * g.f, 4);
  Buffer y(dy.size()), dx(x.size()), dw(static_cast<size_t>(wsize)), db(static_cast<size_t>(g.f));

  OneDnnConv d(s, g, eng, st);
  std::memcpy(d.bias_.get_data_handle(), b.data(), b.size() * sizeof(float));
  memory src = d.to_primitive(d.user_src_, d.fwd_pd_.src_desc(), x);
  memory wei = d.to_primitive(d.user_wei_, d.fwd_pd_.weights_desc(), w);
  memory dst(d.fwd_pd_.dst_desc(), eng);
  memory ddst = d.to_primitive(d.user_dst_, d.bwd_data_pd_.diff_dst_desc(), dy);
  memory wei_bd = d.to_primitive(d.user_wei_, d.bwd_data_pd_.weights_desc(), w);
  memory dsrc(d.bwd_data_pd_.diff_src_desc(), eng);
  memory src_bw = d.to_primitive(d.user_src_, d.bwd_w_pd_.src_desc(), x);
  memory ddst_bw = d.to_primitive(d.user_dst_, d.bwd_w_pd_.diff_dst_desc(), dy);
  memory dwei(d.bwd_w_pd_.diff_weights_desc(), eng);
  dnnl::convolution_forward fwd(d.fwd_pd_);
  dnnl::convolution_backward_data bwd_data(d.bwd_data_pd_);
  dnnl::convolution_backward_weights bwd_w(d.bwd_w_pd_);

  auto run_onednn = [&](int pass) {
    if (pass == 0)
      fwd.execute(st, {{DNNL_ARG_SRC, src},
                       {DNNL_ARG_WEIGHTS, wei},
                       {DNNL_ARG_BIAS, d.bias_},
                       {DNNL_ARG_DST, dst}});
    else if (pass == 1)
      bwd_data.execute(
          st, {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wei_bd}, {DNNL_ARG_DIFF_SRC, dsrc}});
    else
      bwd_w.execute(st, {{DNNL_ARG_SRC, src_bw},
                         {DNNL_ARG_DIFF_DST, ddst_bw},
                         {DNNL_ARG_DIFF_WEIGHTS, dwei},
                         {DNNL_ARG_DIFF_BIAS, d.dbias_}});
    st.wait();
  };
  auto run_moodnet = [&](int pass) {
    if (pass == 0) {
      if (s.depthwise)
        Ops::depthwise_conv2d_forward(g, x.data(), w.data(), b.data(), y.data());
      else
        Ops::conv2d_forward(g, x.data(), w.data(), b.data(), y.data());
    } else if (pass == 1) {
      if (s.depthwise)
        Ops::depthwise_conv2d_backward_data(g, dy.data(), w.data(), dx.data());
      else
        Ops::conv2d_backward_data(g, dy.data(), w.data(), dx.data());
    } else {
      // oneDNN overwrites its weight gradients; moodnet accumulates, so start from zero.
      std::fill(dw.begin(), dw.end(), 0.0f);
      std::fill(db.begin(), db.end(), 0.0f);
      if (s.depthwise)
        Ops::depthwise_conv2d_backward_params(g, x.data(), dy.data(), dw.data(), db.data());
      else
        Ops::conv2d_backward_params(g, x.data(), dy.data(), dw.data(), db.data());
    }
  };

  std::vector<Row> rows;
  const char* names[] = {"forward", "backward_data", "backward_weights"};
  for (int pass = 0; pass < 3; ++pass) {
    run_moodnet(pass);  // warm-up, and the outputs compared below
    run_onednn(pass);
    Row r;
    r.shape = s.name, r.pass = names[pass], r.threads = omp_get_max_threads();
    if (pass == 0)
      r.max_rel_err = rel_err(y, d.from_primitive(dst, d.user_dst_, y.size()));
    else if (pass == 1)
      r.max_rel_err = rel_err(dx, d.from_primitive(dsrc, d.user_src_, dx.size()));
    else
      r.max_rel_err = std::max(
          rel_err(dw, d.from_primitive(dwei, d.user_wei_, dw.size())),
          rel_err(db, Buffer(static_cast<float*>(d.dbias_.get_data_handle()),
                             static_cast<float*>(d.dbias_.get_data_handle()) + db.size())));
    if (!(r.max_rel_err <= 1e-3)) {
      std::fprintf(stderr, "compare_onednn: %s %s: outputs differ (max rel err %.3g)\n",
                   s.name.c_str(), names[pass], r.max_rel_err);
      std::exit(1);
    }
    std::vector<double> tm, to;
    for (int k = 0; k < reps; ++k) {  // alternate, so noise hits both
      tm.push_back(seconds([&] { run_moodnet(pass); }));
      to.push_back(seconds([&] { run_onednn(pass); }));
    }
    r.moodnet_gflops = s.flops() * 1e-9 / median(tm);
    r.onednn_gflops = s.flops() * 1e-9 / median(to);
    rows.push_back(r);
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  std::string json_out;
  int reps = 10;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--json-out" && i + 1 < argc) {
      json_out = argv[++i];
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--shapes" && i + 1 < argc) {
      std::stringstream ss(argv[++i]);
      for (std::string t; std::getline(ss, t, ',');) only.push_back(t);
    } else {
      std::fprintf(
          stderr, "usage: compare_onednn [--json] [--json-out FILE] [--reps N] [--shapes a,...]\n");
      return 2;
    }
  }
  moodnet::set_num_threads(omp_get_max_threads());
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  std::vector<Row> rows;
  for (const ConvShape& s : moodnet::bench::conv_shapes()) {
    if (!only.empty() && std::find(only.begin(), only.end(), s.name) == only.end()) continue;
    for (const Row& r : compare_shape(s, reps, eng, st)) rows.push_back(r);
  }
  nlohmann::json out = nlohmann::json::array();
  for (const Row& r : rows)
    out.push_back({{"shape", r.shape},
                   {"pass", r.pass},
                   {"threads", r.threads},
                   {"moodnet_gflops", r.moodnet_gflops},
                   {"onednn_gflops", r.onednn_gflops},
                   {"ratio", r.moodnet_gflops / r.onednn_gflops}});
  if (json) {
    std::printf("%s\n", out.dump(1).c_str());
    return 0;
  }
  if (!json_out.empty()) {
    std::FILE* f = std::fopen(json_out.c_str(), "w");
    if (!f || std::fprintf(f, "%s\n", out.dump(1).c_str()) < 0 || std::fclose(f) != 0) {
      std::fprintf(stderr, "compare_onednn: cannot write %s\n", json_out.c_str());
      return 1;
    }
  }
  std::printf(
      "# moodnet (%s) vs oneDNN %d.%d, %d thread(s), median of %d runs each, N = 32 (fer*: 64)\n",
      moodnet::cpu::to_string(moodnet::cpu::active_isa()), dnnl_version()->major,
      dnnl_version()->minor, omp_get_max_threads(), reps);
  std::printf("%-6s %-17s %8s %14s %13s %7s %12s\n", "shape", "pass", "threads", "moodnet GF/s",
              "oneDNN GF/s", "ratio", "max_rel_err");
  for (const Row& r : rows)
    std::printf("%-6s %-17s %8d %14.1f %13.1f %7.2f %12.1e\n", r.shape.c_str(), r.pass.c_str(),
                r.threads, r.moodnet_gflops, r.onednn_gflops, r.moodnet_gflops / r.onednn_gflops,
                r.max_rel_err);
  return 0;
}
